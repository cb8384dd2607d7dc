"""Section policy: policy_allows and effective_policy."""

from __future__ import annotations

import os
import re
import subprocess
import time

from ..common import BENCH, BenchError, DEFAULT_TENANT, ROOT, det_uuid, log, stats_us


class PolicySection:
    # ── 3. policy ───────────────────────────────────────────────────────
    def bench_policy(self) -> None:
        s = self.s
        self.ensure_release("policy")
        script = BENCH / "policy" / "run.sh"
        if not script.exists():
            return self.bench_policy_own()
        env = dict(os.environ, USERS=str(s["policy_users"]), DURATION=str(s["policy_duration"]),
                   CLIENTS="1 2", INQUERY_CALLS=str(s["policy_inquery"]))
        log(f"  running bench/policy/run.sh (USERS={s['policy_users']}, DURATION={s['policy_duration']})")
        t0 = time.time()
        p = subprocess.run(["bash", str(script), self.dsn()], env=env, capture_output=True, text=True,
                           timeout=s["policy_timeout_s"], cwd=ROOT)
        out = p.stdout + ("\n" + p.stderr if p.stderr.strip() else "")
        (self.out / "results-policy.txt").write_text(out)
        if p.returncode != 0:
            raise BenchError(f"bench/policy/run.sh exited {p.returncode}: {out[-800:]}")
        self.details["policy"] = {"source": "bench/policy/run.sh", "seconds": round(time.time() - t0),
                                  "users": s["policy_users"], "output_file": "bench/results-policy.txt"}
        table = {}
        clients = []
        for line in out.splitlines():
            mh = re.match(r"^statement\s+\|(.*)$", line)
            if mh:
                clients = re.findall(r"tps c=(\d+)", mh.group(1))
            mr = re.match(r"^((?:allows|sql|effective)_\d+)\s+\|(.*)$", line)
            if mr:
                parts = [x.split() for x in mr.group(2).split("|")]
                table[mr.group(1)] = {c: {"tps": float(x[0]), "p50_us": float(x[1])}
                                      for c, x in zip(clients, parts) if len(x) >= 2}
        inq = {m.group(1): (float(m.group(2)), float(m.group(3))) for m in
               re.finditer(r"policy_allows probe(\d+): ([\d.]+) µs/call, ([\d.]+) calls/s", out)}
        self.details["policy"]["pgbench"] = table
        self.details["policy"]["in_query"] = {k: {"us_per_call": v[0], "calls_per_s": v[1]} for k, v in inq.items()}
        if not table:
            raise BenchError("could not parse bench/policy/run.sh output (see bench/results-policy.txt)")
        for k in ("1", "10", "50"):
            a, b = table.get(f"allows_{k}", {}).get("1"), table.get(f"sql_{k}", {}).get("1")
            if a and b:
                self.row("policy", f"policy_allows, user in {k} groups (p50, 1 client)", a["p50_us"], b["p50_us"],
                         "µs", "lower", None, note=f"baseline: the same decision as hand-written SQL; "
                                                   f"tps {a['tps']:.0f} vs {b['tps']:.0f}")
        for k in ("10", "50"):
            e = table.get(f"effective_{k}", {}).get("1")
            if e:
                self.row("policy", f"effective_policy, user in {k} groups (p50, 1 client)", e["p50_us"], None, "µs",
                         "lower", None, note=f"tps {e['tps']:.0f}")
        a2 = table.get("allows_10", {}).get("2")
        if a2:
            self.row("policy", "policy_allows, 10 groups: pgbench 2 connections, calls/s per core",
                     round(a2["tps"] / 2), 20_000, "calls/s", "higher", 1.0, target_text="≥ 20,000/s",
                     note=f"{a2['tps']:.0f} tps over 2 cores shared with pgbench itself (client round trip included)")
            self.rows[-1]["baseline_label"] = "target"
        if "10" in inq:
            self.row("policy", "policy_allows, 10 groups: in-query calls/s (one backend = one core)",
                     round(inq["10"][1]), 20_000, "calls/s", "higher", 1.0, target_text="≥ 20,000/s",
                     note=f"{inq['10'][0]} µs per call without the client round trip")
            self.rows[-1]["baseline_label"] = "target"

    def bench_policy_own(self) -> None:
        """Fallback when bench/policy/run.sh is absent: a user in 10 groups
        bound to 10 policies; policy_allows p50 and calls/s in one backend."""
        conn = self.connect()
        cur = conn.cursor()
        cur.execute("""SELECT scim.scim_policy_put('bench-p' || k, jsonb_build_object('allow',
                         jsonb_build_object('skills', jsonb_build_array('git', 'jira', 's' || k))))
                         FROM generate_series(1, 10) k""")
        for k in range(1, 11):
            gid = str(det_uuid("g", k))
            cur.execute("SELECT scim.scim_policy_bind(%s, %s)", (gid, f"bench-p{k}"))
            cur.execute("INSERT INTO scim.members VALUES (%s, %s, %s, 'User') ON CONFLICT DO NOTHING",
                        (DEFAULT_TENANT, det_uuid("g", k), det_uuid("u", 3)))
        smp = self.interleave([("ours", lambda i: cur.execute(
            "SELECT scim.policy_allows('user3@example.com', 'skills', 'git')", prepare=True).fetchall())],
            2000, 5.0)
        st = stats_us(smp["ours"])
        t0 = time.time()
        cur.execute("SELECT count(*) FILTER (WHERE scim.policy_allows('user3@example.com', 'skills', 'git')) "
                    "FROM generate_series(1, 20000)")
        cps = 20000 / (time.time() - t0)
        self.row("policy", "policy_allows, 10 groups (p50, 1 client)", st["p50_us"], None, "µs", "lower", None)
        self.row("policy", "policy_allows, 10 groups: in-query calls/s", round(cps), 20_000, "calls/s", "higher",
                 1.0, target_text="≥ 20,000/s")
        self.details["policy"] = {"source": "bench.py fallback (bench/policy/run.sh absent)", "p50": st}
        conn.close()
