"""Section limits: client-sized work and cancellation."""

from __future__ import annotations

import json
import statistics
import time

import psycopg
import psycopg.sql

from ..common import PATCH_SCHEMA, det_uuid


class LimitsSection:
    # ── 6. memory ───────────────────────────────────────────────────────
    # ── limits: cost curve of client-sized work, and cancellation ─────────
    def bench_limits(self) -> None:
        """PATCH cost as member-filter operations × group members (the
        product a request controls; scim.max_patch_operations bounds the
        first factor), and how fast statement_timeout stops the largest
        request the defaults allow. Reported, not targeted: the point is a
        cost linear in ops × members and a cancel within milliseconds."""
        s = self.s
        self.ensure_release("limits")
        conn = self.connect()
        sql = "SELECT scim.scim_patch('Group', %s, %s::jsonb)"

        def body(n_ops):
            return json.dumps({"schemas": [PATCH_SCHEMA], "Operations": [
                {"op": "remove", "path": f'members[display co "no-such-{i}"]'} for i in range(n_ops)]})

        curve = []
        for z in s["patch_sizes"]:
            gid = str(det_uuid("gn", f"bench-patch-{z}"))
            for n_ops in (1, 10, 100):
                if n_ops * z > 20_000_000:
                    continue
                b = body(n_ops)
                conn.execute(sql, (gid, b))  # warm (plans, caches)
                times = []
                for _ in range(3):
                    t = time.perf_counter()
                    conn.execute(sql, (gid, b))
                    times.append(time.perf_counter() - t)
                ms = statistics.median(times) * 1000
                ns_per = ms * 1e6 / (n_ops * z)
                curve.append({"ops": n_ops, "members": z, "ms": round(ms, 2), "ns_per_op_member": round(ns_per, 1)})
                self.row("limits", f"PATCH {n_ops} member-filter ops on a {z:,}-member group", round(ms, 2),
                         None, "ms", "lower", None, note=f"{ns_per:.0f} ns per operation × member")
        self.details["limits_curve"] = curve
        # Cancellation: the largest member-filter PATCH (1,000 ops) on the
        # largest group, under a 500 ms statement_timeout.
        z = max(s["patch_sizes"])
        gid = str(det_uuid("gn", f"bench-patch-{z}"))
        lat = []
        for _ in range(3):
            with self.connect() as c:
                c.execute("SET statement_timeout = 500")
                t = time.perf_counter()
                try:
                    c.execute(sql, (gid, body(1000)))
                    outcome = "finished"
                except psycopg.errors.QueryCanceled:
                    outcome = "cancelled"
                lat.append((time.perf_counter() - t - 0.5) * 1000)
        self.row("limits", f"cancel: 1,000 member-filter ops on {z:,} members, statement_timeout 500 ms",
                 round(max(lat), 1), None, "ms past the timeout (max of 3)", "lower", None,
                 note=f"{outcome}; each: {', '.join(f'{x:.1f}' for x in lat)} ms")
