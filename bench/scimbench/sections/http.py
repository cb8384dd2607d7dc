"""Section http: the gateway against the scim2-server reference (wrk)."""

from __future__ import annotations

import hashlib
import random
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from pathlib import Path

from ..common import (
    BenchError,
    Client,
    GROUP_SCHEMA,
    SEED,
    USER_SCHEMA,
    det_uuid,
    display_name,
    log,
    pkg_version,
)


class HttpSection:
    def bench_http(self) -> None:
        s = self.s
        self.ensure_release("http")
        host, gport = self.start_gateway()
        tok = self.token()
        bport = self.a.http_port + 1
        btok = "bench-" + hashlib.sha256(self.run_id.encode()).hexdigest()[:24]
        exe = Path(sys.executable).parent / "scim2-server"
        logf = open(self.run_dir / "scim2-server.log", "ab")
        bp = self.track(subprocess.Popen([str(exe), "--hostname", "127.0.0.1", "--port", str(bport),
                                          "--bearer-token", btok], stdout=logf, stderr=logf))
        self.wait_http(bport, "/v2/ServiceProviderConfig", bp, {"Authorization": f"Bearer {btok}"})
        # seed the reference server (in memory): users user1..M@example.com and one group
        m = s["http_seed_users"]
        cl = Client("127.0.0.1", bport, "/v2", btok)
        bids = []
        for i in range(1, m + 1):
            st, body = cl.call("POST", "/Users", {"schemas": [USER_SCHEMA], "userName": f"user{i}@example.com",
                                                  "displayName": display_name(i), "active": True,
                                                  "emails": [{"value": f"user{i}@example.com", "type": "work"}]})
            if st != 201:
                raise BenchError(f"scim2-server seed POST /Users: {st} {body}")
            bids.append(body["id"])
        st, body = cl.call("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "bench-http"})
        if st != 201:
            raise BenchError(f"scim2-server seed POST /Groups: {st} {body}")
        bgroup = body["id"]
        # sanity: both answer the three requests the way wrk sends them
        ours_cl = Client("127.0.0.1", gport, "/scim/v2", tok)
        for who, c in (("ours", ours_cl), ("scim2-server", cl)):
            st, body = c.call("GET", "/Users?filter=" + urllib.parse.quote('userName eq "user7@example.com"'))
            if st != 200 or body.get("totalResults") != 1:
                raise BenchError(f"{who}: filter sanity check failed: {st} {str(body)[:300]}")
        ids_file = self.run_dir / "http-ours-ids.txt"
        ids_file.write_text("\n".join(str(det_uuid("u", i)) for i in
                                      random.Random(f"{SEED}-http").sample(range(1, s["users"] + 1),
                                                                          min(s["users"], 200_000))) + "\n")
        bids_file = self.run_dir / "http-base-ids.txt"
        bids_file.write_text("\n".join(bids) + "\n")
        ours_group = str(uuid.UUID(hashlib.md5(f"{SEED}-gn-bench-http".encode()).hexdigest()))
        targets = {
            "ours": (gport, {"BENCH_BASE": "/scim/v2", "BENCH_TOKEN": tok, "BENCH_USERS": str(s["users"]),
                             "BENCH_IDS": str(ids_file), "BENCH_GROUP": ours_group}),
            "base": (bport, {"BENCH_BASE": "/v2", "BENCH_TOKEN": btok, "BENCH_USERS": str(m),
                             "BENCH_IDS": str(bids_file), "BENCH_GROUP": bgroup}),
        }
        endpoints = [("POST /Users", "post_users.lua"),
                     ("GET /Users?filter=userName eq", "get_filter.lua"),
                     ("PATCH /Groups/{id} add one member", "patch_group.lua")]
        res = {}
        for rnd_i in range(s["http_rounds"]):
            for ep, script in endpoints:
                order = ["ours", "base"] if rnd_i % 2 == 0 else ["base", "ours"]
                for who in order:
                    port, env = targets[who]
                    env = dict(env, BENCH_PREFIX=f"r{self.run_id}-{who}-{rnd_i}")
                    r = self.wrk(script, port, env, s["http_s"])
                    res.setdefault(ep, {}).setdefault(who, []).append(r)
                    log(f"  {ep} {who}: {r['rps']:.0f} req/s non2xx={r['non2xx']} {r['socket_errors']}")
                    if who == "ours" and r["non2xx"]:
                        raise BenchError(f"gateway answered {r['non2xx']} non-2xx responses to {ep}")
        info = self.release_info()
        self.build_checks.append({"after": "http", "build_info": info, "at": time.time()})
        if "(release)" not in info:
            raise BenchError(f"scim_build_info() changed to {info!r} during the HTTP run")
        for ep, _ in endpoints:
            o = statistics.median(x["rps"] for x in res[ep]["ours"])
            b = statistics.median(x["rps"] for x in res[ep]["base"])
            notes = []
            bad = sum(x["non2xx"] for x in res[ep]["base"])
            if bad:
                notes.append(f"scim2-server answered {bad} non-2xx")
            se = "; ".join(x["socket_errors"] for x in res[ep]["base"] if x["socket_errors"])
            if se:
                notes.append(f"scim2-server socket errors: {se}")
            lo = res[ep]["ours"][0]["latency"].get("50")
            lb = res[ep]["base"][0]["latency"].get("50")
            notes.append(f"p50 latency {lo} vs {lb}")
            self.row("http", f"{ep} (wrk 2 threads, 16 conns, {s['http_s']} s)", round(o), round(b), "req/s",
                     "higher", 3.0, note="; ".join(notes))
        self.details["http"] = {ep: {who: [{k: v for k, v in r.items() if k != "raw"} for r in rs]
                                     for who, rs in d.items()} for ep, d in res.items()}
        self.details["http"]["setup"] = {
            "gateway": "target/release/scim-gateway, pool 8, database = this run's 1 tenant with "
                       f"{s['users']:,} users", "scim2-server": f"scim2-server {pkg_version('scim2-server')} "
                       f"(wsgiref ThreadingWSGIServer, HTTP/1.0, in memory), --bearer-token, seeded with {m} users"}
        self.stop_procs()
