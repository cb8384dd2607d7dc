"""Section patch: member adds/removes by group size, member-filter ops."""

from __future__ import annotations

import hashlib
import json
import random
import statistics
import time
import uuid

from ..common import BenchError, DEFAULT_TENANT, PATCH_SCHEMA, SEED, det_uuid, stats_us


class PatchSection:
    # ── 2. PATCH membership ─────────────────────────────────────────────
    def bench_patch(self) -> None:
        s = self.s
        n = s["users"]
        self.ensure_release("patch")
        conn = self.connect()
        cur = conn.cursor()
        # Diagnostic: the hand-written statements with triggers off in this
        # session only (session_replication_role = replica), which shows
        # what the membership triggers cost.
        nconn = self.connect()
        nconn.execute("SET session_replication_role = replica")
        ncur = nconn.cursor()
        T = DEFAULT_TENANT
        rnd = random.Random(f"{SEED}-patch")
        ours_sql = "SELECT scim.scim_patch('Group', %s, %s::jsonb)"
        add_sql = """WITH ins AS (INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
                                  VALUES (%s, %s, %s, 'User') ON CONFLICT DO NOTHING RETURNING 1)
                     UPDATE scim.groups SET version = version + 1, last_modified = clock_timestamp()
                      WHERE tenant_id = %s AND id = %s AND EXISTS (SELECT FROM ins) RETURNING version"""
        rm_sql = """WITH d AS (DELETE FROM scim.members WHERE tenant_id = %s AND group_id = %s AND member_id = %s RETURNING 1)
                    UPDATE scim.groups SET version = version + 1, last_modified = clock_timestamp()
                     WHERE tenant_id = %s AND id = %s AND EXISTS (SELECT FROM d) RETURNING version"""
        add_many_sql = """WITH ins AS (INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
                                       SELECT %s, %s, m, 'User' FROM unnest(%s::uuid[]) m ON CONFLICT DO NOTHING RETURNING 1)
                          UPDATE scim.groups SET version = version + 1, last_modified = clock_timestamp()
                           WHERE tenant_id = %s AND id = %s AND EXISTS (SELECT FROM ins) RETURNING version"""
        rm_many_sql = """WITH d AS (DELETE FROM scim.members WHERE tenant_id = %s AND group_id = %s
                                     AND member_id = ANY(%s::uuid[]) RETURNING 1)
                         UPDATE scim.groups SET version = version + 1, last_modified = clock_timestamp()
                          WHERE tenant_id = %s AND id = %s AND EXISTS (SELECT FROM d) RETURNING version"""

        def body_add(ids):
            return json.dumps({"schemas": [PATCH_SCHEMA], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": str(x)} for x in ids]}]})

        def body_rm_one(x):
            return json.dumps({"schemas": [PATCH_SCHEMA], "Operations": [
                {"op": "remove", "path": f'members[value eq "{x}"]'}]})

        def body_rm_many(ids):
            return json.dumps({"schemas": [PATCH_SCHEMA], "Operations": [
                {"op": "remove", "path": "members", "value": [{"value": str(x)} for x in ids]}]})

        def members_of(gid):
            return cur.execute("SELECT count(*) FROM scim.members WHERE tenant_id = %s AND group_id = %s",
                               (T, gid)).fetchone()[0]

        gids = {}
        for z in s["patch_sizes"]:
            gids[z] = uuid.UUID(hashlib.md5(f"{SEED}-gn-bench-patch-{z}".encode()).hexdigest())
            if members_of(gids[z]) != z:
                raise BenchError(f"group bench-patch-{z} has {members_of(gids[z])} members")
        outsider_lo = max(s["patch_sizes"]) + 1

        cases = []
        for z in s["patch_sizes"]:
            g = gids[z]

            def o_add(i, g=g):
                u = det_uuid("u", rnd.randint(outsider_lo, n))
                cur.execute(ours_sql, (str(g), body_add([u])), prepare=True)
                cur.fetchall()
                self._last = u

            def o_rm(i, g=g):
                cur.execute(ours_sql, (str(g), body_rm_one(self._last)), prepare=True)
                cur.fetchall()

            def b_add(i, g=g):
                u = det_uuid("u", rnd.randint(outsider_lo, n))
                cur.execute(add_sql, (T, g, u, T, g), prepare=True)
                cur.fetchall()
                self._blast = u

            def b_rm(i, g=g):
                cur.execute(rm_sql, (T, g, self._blast, T, g), prepare=True)
                cur.fetchall()

            def n_add(i, g=g):
                u = det_uuid("u", rnd.randint(outsider_lo, n))
                ncur.execute(add_sql, (T, g, u, T, g), prepare=True)
                ncur.fetchall()
                self._nlast = u

            def n_rm(i, g=g):
                ncur.execute(rm_sql, (T, g, self._nlast, T, g), prepare=True)
                ncur.fetchall()

            # add then remove must stay paired: one case = (add, remove) timed separately
            cases.append((z, o_add, o_rm, b_add, b_rm, n_add, n_rm))

        samples = {}
        for i in range(10):  # warm-up
            for z, o_add, o_rm, b_add, b_rm, n_add, n_rm in cases:
                o_add(i); o_rm(i); b_add(i); b_rm(i); n_add(i); n_rm(i)
        deadline = time.time() + s["patch_cap_s"] * len(cases)
        for i in range(s["patch_iters"]):
            order = cases if i % 2 == 0 else cases[::-1]
            for z, o_add, o_rm, b_add, b_rm, n_add, n_rm in order:
                pairs = [("ours", o_add, o_rm), ("base", b_add, b_rm), ("notrig", n_add, n_rm)]
                if i % 2:
                    pairs.reverse()
                for who, fa, fr in pairs:
                    t0 = time.perf_counter_ns(); fa(i); t1 = time.perf_counter_ns(); fr(i); t2 = time.perf_counter_ns()
                    samples.setdefault((z, who, "add"), []).append(t1 - t0)
                    samples.setdefault((z, who, "remove"), []).append(t2 - t1)
            if i >= 30 and time.time() > deadline:
                break
        for z in s["patch_sizes"]:
            if members_of(gids[z]) != z:
                raise BenchError(f"bench-patch-{z} did not return to {z} members after add/remove pairs")
        st = {f"{z}/{who}/{op}": stats_us(v) for (z, who, op), v in samples.items()}
        zs = s["patch_sizes"]
        small, big = zs[0], zs[-1]
        for op in ("add", "remove"):
            for z in zs:
                a, b, nt = st[f"{z}/ours/{op}"], st[f"{z}/base/{op}"], st[f"{z}/notrig/{op}"]
                self.row("patch", f"{op} one member, group of {z:,} (p50)", a["p50_us"], b["p50_us"], "µs",
                         "lower", None, note=f"p95 {a['p95_us']}/{b['p95_us']} µs, n={a['n']}; hand-written "
                                             f"with triggers off (diagnostic): {nt['p50_us']} µs")
            a, b = st[f"{big}/ours/{op}"], st[f"{small}/ours/{op}"]
            bb, bs = st[f"{big}/base/{op}"], st[f"{small}/base/{op}"]
            self.row("patch", f"{op} one member: {big:,}-member vs {small}-member group (ours p50)",
                     a["p50_us"], b["p50_us"], "µs", "lower", 1.5,
                     note=f"columns: ours at {big:,} / ours at {small}; hand-written SQL: "
                          f"{bb['p50_us']}/{bs['p50_us']} µs = {bb['p50_us'] / bs['p50_us']:.2f}×")
            self.rows[-1]["baseline_label"] = f"ours at {small}"

        # 1,000 members in one request (group of the middle size), then removed again.
        z = zs[1] if len(zs) > 1 else zs[0]
        g = gids[z]
        reps = s["bulk_reps"]
        big_samples = {"ours_add": [], "ours_rm": [], "base_add": [], "base_rm": []}
        for r in range(reps + 1):
            ids_o = [det_uuid("u", x) for x in rnd.sample(range(outsider_lo, n + 1), 1000)]
            ids_b = [det_uuid("u", x) for x in rnd.sample(range(outsider_lo, n + 1), 1000)]
            seq = [("ours", ids_o), ("base", ids_b)]
            if r % 2:
                seq.reverse()
            for who, ids in seq:
                t0 = time.perf_counter_ns()
                if who == "ours":
                    cur.execute(ours_sql, (str(g), body_add(ids)), prepare=True)
                else:
                    cur.execute(add_many_sql, (T, g, ids, T, g), prepare=True)
                cur.fetchall()
                t1 = time.perf_counter_ns()
                if who == "ours":
                    cur.execute(ours_sql, (str(g), body_rm_many(ids)), prepare=True)
                else:
                    cur.execute(rm_many_sql, (T, g, ids, T, g), prepare=True)
                cur.fetchall()
                t2 = time.perf_counter_ns()
                if r > 0:  # first rep is warm-up
                    big_samples[f"{who}_add"].append(t1 - t0)
                    big_samples[f"{who}_rm"].append(t2 - t1)
        if members_of(g) != z:
            raise BenchError(f"bench-patch-{z} did not return to {z} members after the 1,000-member PATCHes")
        for op, key in (("add", "add"), ("remove", "rm")):
            o = statistics.median(big_samples[f"ours_{key}"]) / 1e9
            b = statistics.median(big_samples[f"base_{key}"]) / 1e9
            self.row("patch", f"{op} 1,000 members in one PATCH (group of {z:,})", round(1000 / o),
                     round(1000 / b), "members/s", "higher", None,
                     note=f"median of {reps}: {o * 1000:.1f} ms vs {b * 1000:.1f} ms per request")
        self.details["patch"] = {"latency": st, "thousand": {k: stats_us(v) for k, v in big_samples.items()}}
        conn.close()
        nconn.close()
