"""The cluster, the data, the processes and the run: what every section uses."""

from __future__ import annotations

import argparse
import http.client
import os
import re
import subprocess
import threading
import time
import traceback
from pathlib import Path

import psycopg
import psycopg.sql

from .common import (
    BENCH,
    BenchError,
    DB,
    DEFAULT_TENANT,
    ENTERPRISE,
    FIRST_NAMES,
    GROUP_SCHEMA,
    LAST_NAMES,
    ROOT,
    SCALES,
    SEED,
    USER_SCHEMA,
    log,
)
from .sections import multitenant


class Harness:
    def __init__(self, a: argparse.Namespace):
        self.a = a
        self.mode = a.mode
        self.s = dict(SCALES[a.mode])
        if getattr(a, "mt_largest", 0):
            self.s["mt_largest"] = a.mt_largest
        self.port = a.port
        self.run_dir = Path(a.run_dir)
        self.out = Path(a.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.only = set(a.only.split()) if a.only.strip() else None
        self.rows: list[dict] = []
        self.details: dict = {}
        self.errors: list[str] = []
        self.procs: list[subprocess.Popen] = []
        self.build_checks: list[dict] = []
        self.run_id = time.strftime("%Y%m%d%H%M%S")
        self.started = time.time()
        self.pinned_so: str | None = None

    # ── plumbing ────────────────────────────────────────────────────────
    def dsn(self, db: str = DB) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={db}"

    def connect(self, db: str = DB, autocommit: bool = True, check_release: bool = True,
                options: str | None = None) -> psycopg.Connection:
        kw = {"autocommit": autocommit}
        if options:
            kw["options"] = options
        conn = psycopg.connect(self.dsn(db), **kw)
        conn.prepare_threshold = 0  # every execute(prepare=True) is server-side prepared
        if check_release:
            info = conn.execute("SELECT scim.scim_build_info()").fetchone()[0]
            if "(release)" not in info:
                conn.close()
                raise BenchError(f"scim_build_info() is {info!r} in a benchmark connection")
        return conn

    def track(self, p: subprocess.Popen) -> subprocess.Popen:
        self.procs.append(p)
        with open(self.a.pids, "a") as f:
            f.write(f"{p.pid}\n")
        return p

    def stop_procs(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=10)
        self.procs = []

    def row(self, section: str, case: str, ours, baseline, unit: str, better: str,
            target: float | None, note: str = "", ratio: float | None = None,
            target_text: str | None = None) -> dict:
        """better: 'lower' (latency; ratio = ours/baseline) or 'higher'
        (throughput; ratio = ours/baseline). target applies to the ratio."""
        if ratio is None and isinstance(ours, (int, float)) and isinstance(baseline, (int, float)) and baseline:
            ratio = ours / baseline
        verdict = "info"
        if target is not None and ratio is not None:
            ok = ratio <= target if better == "lower" else ratio >= target
            verdict = "met" if ok else "MISSED"
        if target_text is None and target is not None:
            target_text = f"{'≤' if better == 'lower' else '≥'} {target:g}×"
        r = {
            "section": section, "case": case, "ours": ours, "baseline": baseline, "unit": unit,
            "ratio": None if ratio is None else round(ratio, 3), "better": better,
            "target": target_text or "—", "verdict": verdict, "note": note,
        }
        self.rows.append(r)
        log(f"  {case}: ours={ours} baseline={baseline} {unit} ratio={r['ratio']} "
            f"target={r['target']} → {verdict}")
        return r

    # ── release build check (and pinning of the .so) ────────────────────
    def release_info(self) -> str:
        with psycopg.connect(self.dsn(), autocommit=True) as c:
            return c.execute("SELECT scim.scim_build_info()").fetchone()[0]

    def reinstall(self) -> None:
        # scripts/bench installs the release build into its own PostgreSQL
        # tree, which nothing else writes: another build there is a bug.
        raise SystemExit("the benchmark cluster does not run the release build")

    def pin_library(self) -> None:
        """Nothing to pin: the benchmark cluster runs from a private
        PostgreSQL tree (scripts/lib.sh pg_tree) that only scripts/bench
        installs into, by atomic rename."""
        return

    def ensure_release(self, where: str) -> None:
        """Right before measuring: a fresh connection must run the release build."""
        for attempt in range(3):
            info = self.release_info()
            if "(release)" in info:
                self.build_checks.append({"before": where, "build_info": info, "at": time.time()})
                return
            log(f"build check before {where}: {info!r}")
            self.reinstall()
            self.pin_library()
        raise BenchError(f"could not get a release build loaded before {where}")

    # ── data ────────────────────────────────────────────────────────────
    def setup_database(self) -> None:
        s = self.s
        marker = f"{SEED} users={s['users']} groups={s['groups']} patch={s['patch_sizes']}"
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as c:
            exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone()
            if exists and self.a.reuse == "1":
                try:
                    with psycopg.connect(self.dsn(), autocommit=True) as d:
                        got = d.execute("SELECT obj_description('scim.users'::regclass)").fetchone()[0]
                    if got == marker:
                        log("reusing the loaded database (SCIM_BENCH_REUSE=1)")
                        self.install_check()
                        return
                except psycopg.Error:
                    pass
            if exists:
                c.execute(f"DROP DATABASE {DB} WITH (FORCE)")
            c.execute(f"CREATE DATABASE {DB}")
        with psycopg.connect(self.dsn(), autocommit=True) as c:
            c.execute("CREATE EXTENSION btree_gin")
            c.execute("CREATE EXTENSION pg_trgm")
            c.execute("CREATE EXTENSION scim_pg")
        self.install_check()
        self.load_data()
        with psycopg.connect(self.dsn(), autocommit=True) as c:
            c.execute(f"COMMENT ON TABLE scim.users IS '{marker}'")

    def install_check(self) -> None:
        for _ in range(3):
            if "(release)" in self.release_info():
                break
            self.reinstall()
        self.pin_library()
        self.ensure_release("data load")

    def load_data(self) -> None:
        s = self.s
        n, g = s["users"], s["groups"]
        t0 = time.time()
        log(f"loading {n:,} users, {g:,} groups (seed {SEED!r})")
        fn = "ARRAY[" + ",".join(f"'{x}'" for x in FIRST_NAMES) + "]"
        ln = "ARRAY[" + ",".join(f"'{x}'" for x in LAST_NAMES) + "]"
        steps = {}
        with psycopg.connect(self.dsn(), autocommit=True) as c:
            c.execute("SET session_replication_role = replica")  # no FK/trigger work: data is consistent by construction
            c.execute("SET maintenance_work_mem = '1GB'")
            # Build secondary indexes after the load (same definitions, read from the catalog).
            idx = c.execute("""
                SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
                  FROM pg_index i
                 WHERE i.indrelid IN ('scim.users'::regclass, 'scim.groups'::regclass, 'scim.members'::regclass)
                   AND NOT i.indisprimary
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
                 ORDER BY 1""").fetchall()
            for name, _ in idx:
                c.execute(f"DROP INDEX {name}")
            t = time.time()
            c.execute(f"""
                INSERT INTO scim.users (tenant_id, id, user_name, external_id, display_name, active,
                                        email_values, created, last_modified, version, resource)
                SELECT %(t)s, md5(%(seed)s || '-u-' || i)::uuid, un, ext, dn, act, ARRAY[scim.fold(em)],
                       ts, ts, 1,
                       jsonb_build_object(
                         'schemas', jsonb_build_array('{USER_SCHEMA}', '{ENTERPRISE}'),
                         'userName', un, 'externalId', ext, 'displayName', dn, 'active', act,
                         'name', jsonb_build_object('givenName', f, 'familyName', l),
                         'emails', jsonb_build_array(jsonb_build_object('value', em, 'type', 'work', 'primary', true)),
                         '{ENTERPRISE}', jsonb_build_object('employeeNumber', i::text,
                                                            'department', 'Dept ' || (i %% 50)))
                  FROM (SELECT i, 'user' || i || '@example.com' AS un,
                               'E' || lpad(i::text, 8, '0') AS ext,
                               f, l, f || ' ' || l AS dn,
                               lower(f) || '.' || lower(l) || '.' || i || '@corp.example.com' AS em,
                               i %% 10 <> 0 AS act,
                               timestamptz '2024-01-01 00:00:00+00' + make_interval(secs => i) AS ts
                          FROM (SELECT i, ({fn})[1 + ((i * 7919) %% 97)::int] AS f,
                                       ({ln})[1 + ((i * 104729) %% 101)::int] AS l
                                  FROM generate_series(1::bigint, %(n)s) AS i) x) y""",
                      {"t": DEFAULT_TENANT, "seed": SEED, "n": n})
            steps["users"] = round(time.time() - t, 1)
            t = time.time()
            # Groups: grp-1..grp-G (general), plus the PATCH benchmark groups
            # (bench-patch-<size>, members users 1..size), bench-mem and
            # bench-http (empty).
            c.execute(f"""
                INSERT INTO scim.groups (tenant_id, id, display_name, external_id, resource)
                SELECT %(t)s, md5(%(seed)s || '-g-' || k)::uuid, dn, 'G' || k,
                       jsonb_build_object('schemas', jsonb_build_array('{GROUP_SCHEMA}'),
                                          'displayName', dn, 'externalId', 'G' || k)
                  FROM (SELECT k, 'grp-' || k AS dn FROM generate_series(1, %(g)s) k) x""",
                      {"t": DEFAULT_TENANT, "seed": SEED, "g": g})
            special = [f"bench-patch-{z}" for z in s["patch_sizes"]] + ["bench-mem", "bench-http"]
            for name in special:
                c.execute(f"""
                    INSERT INTO scim.groups (tenant_id, id, display_name, resource)
                    VALUES (%s, md5(%s || '-gn-' || %s)::uuid, %s,
                            jsonb_build_object('schemas', jsonb_build_array('{GROUP_SCHEMA}'), 'displayName', %s::text))""",
                          (DEFAULT_TENANT, SEED, name, name, name))
            # Memberships: user i in grp-(1 + i % G) and grp-(1 + (31 i + 7) % G).
            c.execute("""
                INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
                SELECT DISTINCT %(t)s, md5(%(seed)s || '-g-' || k)::uuid, md5(%(seed)s || '-u-' || i)::uuid, 'User'
                  FROM generate_series(1, %(n)s) i,
                       LATERAL (VALUES (1 + i %% %(g)s), (1 + (31 * i + 7) %% %(g)s)) v(k)""",
                      {"t": DEFAULT_TENANT, "seed": SEED, "n": n, "g": g})
            for z in s["patch_sizes"]:
                c.execute("""
                    INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
                    SELECT %s, md5(%s || '-gn-' || %s)::uuid, md5(%s || '-u-' || i)::uuid, 'User'
                      FROM generate_series(1, %s) i""",
                          (DEFAULT_TENANT, SEED, f"bench-patch-{z}", SEED, z))
            steps["groups+members"] = round(time.time() - t, 1)
            t = time.time()
            for name, ddl in idx:
                c.execute(ddl)
            steps["indexes"] = round(time.time() - t, 1)
            c.execute("RESET session_replication_role")
            t = time.time()
            c.execute("VACUUM (ANALYZE) scim.users, scim.groups, scim.members")
            steps["vacuum_analyze"] = round(time.time() - t, 1)
            counts = c.execute("""SELECT (SELECT count(*) FROM scim.users), (SELECT count(*) FROM scim.groups),
                                         (SELECT count(*) FROM scim.members),
                                         pg_size_pretty(pg_database_size(current_database()))""").fetchone()
        self.details["data"] = {"users": counts[0], "groups": counts[1], "memberships": counts[2],
                                "db_size": counts[3], "load_s": round(time.time() - t0, 1),
                                "steps_s": steps, "indexes_rebuilt": [i[0] for i in idx]}
        log(f"loaded in {time.time() - t0:.0f}s: {counts[0]:,} users, {counts[1]:,} groups, "
            f"{counts[2]:,} memberships, {counts[3]} ({steps})")

    # ── measurement helpers ─────────────────────────────────────────────
    def interleave(self, cases: list[tuple[str, callable]], iters: int, cap_s: float,
                   warmup: int = 20, min_iters: int = 30) -> dict[str, list[int]]:
        """Run each case's fn(i) once per iteration, alternating the order,
        and record client wall time (ns) per call."""
        for i in range(warmup):
            for _, fn in cases:
                fn(-1 - i)
        out = {name: [] for name, _ in cases}
        deadline = time.time() + cap_s
        for i in range(iters):
            order = cases if i % 2 == 0 else cases[::-1]
            for name, fn in order:
                t0 = time.perf_counter_ns()
                fn(i)
                out[name].append(time.perf_counter_ns() - t0)
            if i >= min_iters and time.time() > deadline:
                break
        return out

    @staticmethod
    def proc_status(pid: int) -> dict:
        out = {}
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                        out[k] = int(v.split()[0]) / 1024.0  # MB
        except FileNotFoundError:
            pass
        return out

    def watch(self, pid: int):
        """Poll /proc/<pid>/status every 10 ms; returns (stop, peak dict)."""
        peak = {"RssAnon": 0.0, "VmHWM": 0.0}
        stop = threading.Event()

        def run():
            while not stop.is_set():
                st = self.proc_status(pid)
                for k in peak:
                    peak[k] = max(peak[k], st.get(k, 0.0))
                stop.wait(0.01)
        th = threading.Thread(target=run, daemon=True)
        th.start()
        return stop, peak, th

    @staticmethod
    def mem_summary(start: dict, series: list[dict], peak: dict, end: dict) -> dict:
        anon = [x.get("RssAnon", 0.0) for x in series] or [0.0]
        q = max(1, len(anon) // 5)
        first, last = max(anon[:q]), max(anon[-q:])
        grows = last > first * 1.25 + 16
        return {"VmHWM_peak_mb": max(peak["VmHWM"], end.get("VmHWM", 0.0)),
                "RssAnon_peak_mb": peak["RssAnon"], "RssAnon_start_mb": start.get("RssAnon", 0.0),
                "RssShmem_end_mb": end.get("RssShmem", 0.0),
                "RssAnon_first_fifth_mb": first, "RssAnon_last_fifth_mb": last, "grows": grows,
                "trend": f"private RSS {first:.1f} MB in the first fifth, {last:.1f} MB in the last",
                "series_RssAnon_mb": [round(x, 1) for x in anon]}

    # ── 4. HTTP ─────────────────────────────────────────────────────────
    def start_gateway(self, db: str = DB) -> tuple[str, int]:
        port = self.a.http_port
        exe = ROOT / "target" / "release" / "scim-gateway"
        logf = open(self.run_dir / "gateway.log", "ab")
        p = self.track(subprocess.Popen(
            [str(exe), "--listen", f"127.0.0.1:{port}", "--database-url",
             f"postgresql://postgres@127.0.0.1:{self.port}/{db}"], stdout=logf, stderr=logf))
        self.wait_http(port, "/healthz", p)
        return "127.0.0.1", port

    def wait_http(self, port: int, path: str, p: subprocess.Popen, headers=None) -> None:
        for _ in range(200):
            if p.poll() is not None:
                raise BenchError(f"server on port {port} exited ({p.returncode})")
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                c.request("GET", path, headers=headers or {})
                r = c.getresponse()
                r.read()
                c.close()
                if r.status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise BenchError(f"server on port {port} did not answer {path}")

    def token(self, tenant: str | None = None) -> str:
        with self.connect() as c:
            if tenant:
                c.execute("SELECT set_config('scim.tenant', %s, false)", (tenant,))
            return c.execute("SELECT scim.scim_token_issue('bench')").fetchone()[0]

    def wrk(self, script: str, port: int, env: dict, seconds: int) -> dict:
        e = dict(os.environ, BENCH_WRK_DIR=str(BENCH / "wrk"), **env)
        cmd = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--timeout", "10s", "--latency",
               "-s", str(BENCH / "wrk" / script), f"http://127.0.0.1:{port}"]
        p = subprocess.run(cmd, env=e, capture_output=True, text=True, timeout=seconds + 60)
        if p.returncode != 0:
            raise BenchError(f"wrk failed: {p.stderr.strip()[:500]}")
        out = p.stdout
        m = re.search(r"Requests/sec:\s+([\d.]+)", out)
        if not m:
            raise BenchError(f"cannot parse wrk output:\n{out}")
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        sock = re.search(r"Socket errors: (.*)", out)
        total = re.search(r"(\d+) requests in", out)
        lat = dict(re.findall(r"\s+(50|90|99)%\s+([\d.]+\w+)", out))
        return {"rps": float(m.group(1)), "non2xx": int(non2xx.group(1)) if non2xx else 0,
                "socket_errors": sock.group(1).strip() if sock else "", "requests": int(total.group(1)) if total else None,
                "latency": lat, "raw": out}

    # ── driver ──────────────────────────────────────────────────────────
    def run(self) -> int:
        sections = [("filter", self.bench_filter), ("patch", self.bench_patch), ("memory", self.bench_memory),
                    ("http", self.bench_http), ("sync", self.bench_sync), ("policy", self.bench_policy),
                    ("limits", self.bench_limits), ("operations", self.bench_operations)]
        sections += [(name, lambda name=name: multitenant.run_section(self, name))
                     for name in ("mt_filter", "mt_walk", "mt_layers", "mt_write", "mt_http")]
        try:
            self.setup_database()
            for name, fn in sections:
                if self.only and name not in self.only:
                    continue
                log(f"── {name}")
                t0 = time.time()
                try:
                    fn()
                except Exception as e:  # a real error: record, go on with the others, fail at the end
                    traceback.print_exc()
                    self.errors.append(f"{name}: {type(e).__name__}: {e}")
                    self.row(name, f"{name} benchmark", "ERROR", None, "", "lower", None, note=str(e)[:300])
                    self.rows[-1]["verdict"] = "ERROR"
                finally:
                    self.stop_procs()
                log(f"── {name} done in {time.time() - t0:.0f}s")
        except Exception as e:
            traceback.print_exc()
            self.errors.append(f"setup: {type(e).__name__}: {e}")
        finally:
            self.stop_procs()
            self.write()
        missed = [r["case"] for r in self.rows if r["verdict"] == "MISSED"]
        log(f"{len(self.rows)} results, {len(missed)} missed targets, {len(self.errors)} errors")
        return 1 if self.errors else 0
