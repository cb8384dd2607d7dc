"""Section operations: provisioning log overhead and friends."""

from __future__ import annotations

import json
import statistics

from ..common import BenchError, PATCH_SCHEMA, log, stats_us


class OperationsSection:
    # ── 8. operating it: provisioning log overhead, rate limiter cost ──
    def bench_operations(self) -> None:
        """The provisioning log's cost on a write (p50 of scim_http PATCH
        /Users/{id} and POST /Users, log on vs scim.provisioning_log = off,
        interleaved; target ≤ 1.15×), and the gateway rate limiter's cost:
        GET /Users/{id} at a paced ~4,000 requests/s offered, the tenant
        with a limit far above it vs no limit (rounds interleaved)."""
        s = self.s
        self.ensure_release("operations")
        tenant = f"bench-ops-{self.run_id}"
        with self.connect() as c:
            c.execute("SELECT scim.scim_tenant_create(%s)", (tenant,))
        tok = self.token(tenant)
        hdr = json.dumps({"authorization": f"Bearer {tok}", "content-type": "application/scim+json"})
        on, off = self.connect(), self.connect()
        off.execute("SET scim.provisioning_log = off")
        ids = []
        for i in range(200):
            ids.append(on.execute("SELECT body->>'id' FROM scim.scim_http('POST', '/Users', '', %s::jsonb, %s)",
                                  (hdr, json.dumps({"userName": f"ops-{i}@bench.example.com"}))).fetchone()[0])
        call = "SELECT status FROM scim.scim_http(%s, %s, '', %s::jsonb, %s)"

        def patch(conn):
            def fn(i):
                body = json.dumps({"schemas": [PATCH_SCHEMA], "Operations": [
                    {"op": "replace", "path": "displayName", "value": f"Ops {i}"}]})
                st = conn.execute(call, ("PATCH", f"/Users/{ids[i % len(ids)]}", hdr, body)).fetchone()[0]
                if st != 200:
                    raise BenchError(f"PATCH answered {st}")
            return fn

        def post(conn, who):
            def fn(i):
                body = json.dumps({"userName": f"ops-{who}-{i}-{self.run_id}@bench.example.com", "active": True})
                st = conn.execute(call, ("POST", "/Users", hdr, body)).fetchone()[0]
                if st != 201:
                    raise BenchError(f"POST answered {st}")
            return fn

        for name, ours, base in (("PATCH /Users/{id} (replace displayName)", patch(on), patch(off)),
                                 ("POST /Users", post(on, "on"), post(off, "off"))):
            t = self.interleave([("on", ours), ("off", base)], s["patch_iters"] * 2, s["patch_cap_s"])
            o, b = stats_us(t["on"]), stats_us(t["off"])
            self.row("operations", f"provisioning log overhead on scim_http {name}, p50", o["p50_us"], b["p50_us"],
                     "µs", "lower", 1.15, note=f"p95 {o['p95_us']} vs {b['p95_us']} µs; {o['n']} samples each")
        logged = on.execute("SELECT count(*) FROM scim.provisioning_log l JOIN scim.tenants t ON t.id = l.tenant_id "
                            "WHERE t.name = %s", (tenant,)).fetchone()[0]
        if logged < len(ids):
            raise BenchError(f"only {logged} log rows for the logged writes")
        on.close()
        off.close()
        # Rate limiter: same gateway, same tenant, limit toggled between rounds.
        _, gport = self.start_gateway()
        ids_file = self.run_dir / "ops-ids.txt"
        ids_file.write_text("\n".join(ids) + "\n")
        env = {"BENCH_BASE": "/scim/v2", "BENCH_TOKEN": tok, "BENCH_IDS": str(ids_file), "BENCH_PACE_MS": "3"}
        res = {"limited": [], "unlimited": []}
        for rnd_i in range(max(4, 2 * s["http_rounds"])):
            order = ["unlimited", "limited"] if rnd_i % 2 == 0 else ["limited", "unlimited"]
            for who in order:
                with self.connect() as c:
                    c.execute("SELECT set_config('scim.tenant', %s, false)", (tenant,))
                    c.execute("SELECT scim.scim_rate_limit_set(%s, %s)",
                              (1_000_000, 1_000_000) if who == "limited" else (None, None))
                r = self.wrk("get_user_paced.lua", gport, env, s["http_s"])
                if r["non2xx"]:
                    raise BenchError(f"rate limiter round answered {r['non2xx']} non-2xx")
                res[who].append(r)
                log(f"  rate limiter {who}: {r['rps']:.0f} req/s p50 {r['latency'].get('50')}")
        lim = statistics.median(x["rps"] for x in res["limited"])
        unl = statistics.median(x["rps"] for x in res["unlimited"])
        self.row("operations", "gateway rate limiter: GET /Users/{id} paced to ~4,000 req/s offered, "
                 "limit on (never reached) vs off", round(lim), round(unl), "req/s", "higher", None,
                 note="p50 " + " / ".join(f"{x['latency'].get('50')}" for x in res["limited"]) + " vs "
                 + " / ".join(f"{x['latency'].get('50')}" for x in res["unlimited"])
                 + "; p99 " + " / ".join(f"{x['latency'].get('99')}" for x in res["limited"]) + " vs "
                 + " / ".join(f"{x['latency'].get('99')}" for x in res["unlimited"]))
        self.details["operations"] = {who: [{k: v for k, v in r.items() if k != "raw"} for r in rs]
                                      for who, rs in res.items()}
        self.stop_procs()
