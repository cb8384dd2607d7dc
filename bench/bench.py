#!/usr/bin/env python3
"""scim_pg benchmarks (driven by scripts/bench, which builds, installs and
starts the private cluster; this file loads the data, measures, and writes
bench/results.md and bench/results.json).

Every figure is a ratio of two measurements taken side by side in the same
run, samples interleaved (ours, baseline, baseline, ours, ...), through the
same client path (psycopg 3, prepared statements; wrk for HTTP).

Sections: filter, patch, memory, http, sync, policy, limits, operations,
and the multi-tenant ones in bench/multitenant.py (mt_filter, mt_walk,
mt_layers, mt_write). Exit status is non-zero
only on real errors (a failed query, a wrong result, a server that does not
start); a missed target is reported with its verdict.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from pathlib import Path

import psycopg
import psycopg.sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
import multitenant  # noqa: E402  (bench/multitenant.py: the multi-tenant sections)

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
SEED = "scim-bench-v1"
DEFAULT_TENANT = uuid.UUID("00000000-0000-0000-0000-000000000000")
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
DB = "scim_bench"

SCALES = {
    "quick": dict(
        users=20_000, groups=200, patch_sizes=[10, 1_000, 10_000],
        list_iters=400, list_cap_s=4.0, patch_iters=150, patch_cap_s=4.0,
        bulk_reps=4, mem_members=5_000, http_s=3, http_rounds=1, http_seed_users=300,
        sync_users=5_000, sync_groups=50, policy_users=20_000, policy_duration=2,
        policy_inquery=20_000, policy_timeout_s=240,
        mt_tenants=1_000, mt_largest=20_000, mt_write_rows=2_000,
    ),
    "full": dict(
        users=1_000_000, groups=10_000, patch_sizes=[10, 10_000, 100_000],
        list_iters=3_000, list_cap_s=25.0, patch_iters=1_000, patch_cap_s=20.0,
        bulk_reps=15, mem_members=50_000, http_s=10, http_rounds=2, http_seed_users=2_000,
        sync_users=100_000, sync_groups=1_000, policy_users=1_000_000, policy_duration=10,
        policy_inquery=200_000, policy_timeout_s=1_500,
        mt_tenants=1_000, mt_largest=1_000_000, mt_write_rows=20_000,
    ),
}

FIRST_NAMES = """Aaron Abigail Adam Adrian Aisha Alan Albert Alex Alice Amanda Amber Amy Andrea Andrew Angela
Anna Anthony Arthur Ava Barbara Benjamin Beth Brandon Brian Bruce Carl Carlos Carol Catherine Charles
Chloe Chris Claire Craig Daniel David Deborah Dennis Diana Donald Dorothy Dylan Edward Elena Elijah
Elizabeth Emily Emma Eric Ethan Eva Frank Gabriel Gary George Grace Gregory Hannah Harold Helen Henry
Isabel Jack Jacob James Janet Jason Jeffrey Jennifer Jessica Joan John Jonathan Jose Joseph Joshua
Joyce Julia Justin Karen Kate Kelly Kenneth Kevin Kyle Laura Lauren Linda Lisa Logan Louis Lucas
Madison Margaret Maria Mark Martha Mary Matthew Megan Melissa""".split()[:97]
LAST_NAMES = """Adams Allen Alvarez Anderson Bailey Baker Barnes Bell Bennett Brooks Brown Butler Campbell
Carter Castillo Chavez Clark Collins Cook Cooper Cox Cruz Davis Diaz Edwards Evans Fisher Flores Foster
Garcia Gomez Gonzalez Gray Green Gutierrez Hall Harris Hernandez Hill Howard Hughes Jackson James
Jenkins Johnson Jones Kelly Kim King Lee Lewis Long Lopez Martin Martinez Miller Mitchell Moore Morales
Morgan Morris Murphy Myers Nelson Nguyen Ortiz Parker Patel Perez Perry Peterson Phillips Powell Price
Ramirez Reed Reyes Richardson Rivera Roberts Robinson Rodriguez Rogers Ross Russell Sanchez Sanders
Scott Smith Stewart Sullivan Taylor Thomas Thompson Torres Turner Walker Ward Watson White Williams
Wilson Wood Wright Young""".split()[:101]


def det_uuid(kind: str, i: int) -> uuid.UUID:
    """The id the SQL generator gives object i of a kind (md5(seed-kind-i))."""
    return uuid.UUID(hashlib.md5(f"{SEED}-{kind}-{i}".encode()).hexdigest())


def display_name(i: int) -> str:
    return f"{FIRST_NAMES[(i * 7919) % 97]} {LAST_NAMES[(i * 104729) % 101]}"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class BenchError(Exception):
    """A real error: the run is reported as failed."""


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def stats_us(ns: list[int]) -> dict:
    us = [x / 1000.0 for x in ns]
    return {
        "n": len(us),
        "p50_us": round(pct(us, 50), 1),
        "p95_us": round(pct(us, 95), 1),
        "mean_us": round(statistics.fmean(us), 1) if us else None,
    }


class Bench:
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

    # ── 1. filter / list ────────────────────────────────────────────────
    def bench_filter(self) -> None:
        s = self.s
        n = s["users"]
        self.ensure_release("filter")
        conn = self.connect()
        cur = conn.cursor()
        # Both sides measured with a warm cache (the 1M-user database fits
        # in shared_buffers): without this, whichever query first touches a
        # page pays the OS read, and the figures drift with the order of
        # the cases.
        t0 = time.time()
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        pages = cur.execute("""SELECT sum(pg_prewarm(c.oid)) FROM pg_class c
                                JOIN pg_namespace n ON n.oid = c.relnamespace
                               WHERE n.nspname = 'scim' AND c.relkind IN ('r', 'i')""").fetchone()[0]
        log(f"  prewarmed {pages:,} pages of scim tables and indexes in {time.time() - t0:.1f}s")
        rnd = random.Random(f"{SEED}-filter")
        k = 4096

        def existing(i):
            return rnd.randint(1, n)

        def casing(v):
            r = rnd.random()
            return v.upper() if r < 0.25 else (v.title() if r < 0.5 else v)

        un_vals, ext_vals, em_vals, sw_vals, combo_vals = [], [], [], [], []
        for j in range(k):
            hit = j % 2 == 0
            i = existing(j)
            un_vals.append(casing(f"user{i}@example.com") if hit else f"user{n + 1 + i}@example.com")
            ext_vals.append(f"E{i:08d}" if hit else f"X{i:08d}")
            f, l = display_name(i).split(" ")
            em_vals.append(casing(f"{f.lower()}.{l.lower()}.{i}@corp.example.com") if hit
                           else f"{f.lower()}.{l.lower()}.{n + i}@corp.example.com")
            sw_vals.append(casing(f"{f} {l[0]}") if hit else f"{f} Q{l[1:3]}")
            i2 = existing(j)
            f2, l2 = display_name(i2).split(" ")
            combo_vals.append((f"user{i}@example.com" if hit else f"nouser{i}@example.com",
                               f"{f2.lower()}.{l2.lower()}.{i2}@corp.example.com" if j % 4 == 0
                               else f"none.{i2}@corp.example.com"))

        def q(v):
            return v.replace("\\", "\\\\").replace('"', '\\"')

        T = DEFAULT_TENANT
        # Two hand-written shapes; for each filter the faster one (measured
        # below, after the plan cache has settled) is the baseline:
        #  plain:        SELECT … count(*) OVER () … WHERE … ORDER BY r.id LIMIT 100
        #  materialized: match set MATERIALIZED first, then count and page; the
        #                planner cannot turn the page into "walk users_pkey in id
        #                order and filter", which it picks for a bare
        #                `email_values @> … ORDER BY r.id LIMIT 100` (1.4 s at 1M users).
        shapes = {
            "plain": ("SELECT r.id, r.resource, count(*) OVER () AS total FROM scim.users r "
                      "WHERE r.tenant_id = %s AND ", " ORDER BY r.id LIMIT 100", False),
            "materialized": ("WITH m AS MATERIALIZED (SELECT r.id FROM scim.users r WHERE r.tenant_id = %s AND ",
                             ") , p AS (SELECT id, count(*) OVER () AS total FROM m ORDER BY id LIMIT 100) "
                             "SELECT p.id, r.resource, p.total FROM p JOIN scim.users r "
                             "ON r.tenant_id = %s AND r.id = p.id ORDER BY p.id", True),
        }
        cases = [
            ("userName eq", 'userName eq "{}"', un_vals,
             "scim.fold(r.user_name) = scim.fold(%s)", lambda v: (v,)),
            ("externalId eq", 'externalId eq "{}"', ext_vals,
             "r.external_id = %s", lambda v: (v,)),
            ("emails[value eq]", 'emails[value eq "{}"]', em_vals,
             "r.email_values @> ARRAY[scim.fold(%s)]", lambda v: (v,)),
            ("displayName sw", 'displayName sw "{}"', sw_vals,
             "scim.fold(r.display_name) LIKE scim.fold(%s)", lambda v: (v + "%",)),
            ("3-clause and/or", '(userName eq "{}" or emails[value eq "{}"]) and active eq true', combo_vals,
             "(scim.fold(r.user_name) = scim.fold(%s) OR r.email_values @> ARRAY[scim.fold(%s)]) AND r.active", lambda v: v),
        ]
        # An indexed attribute of a registered extension schema (issue 13),
        # set up for this section only and removed again at its end: every
        # user gets a unique costCenter; scim_extension_index builds the
        # b-tree both sides use.
        ext_urn = "urn:bench:scim:schemas:extension:User:1.0"
        t0 = time.time()
        cur.execute("SELECT scim.scim_extension_schema_put('User', %s::jsonb)",
                    (json.dumps({"id": ext_urn, "attributes": [{"name": "costCenter", "type": "string"}]}),))
        cur.execute("SET session_replication_role = replica")  # no change-feed rows for the fixture
        cur.execute("UPDATE scim.users SET resource = resource || jsonb_build_object(%s::text, "
                    "jsonb_build_object('costCenter', 'CC-' || substr(external_id, 2))) "
                    "WHERE tenant_id = %s AND external_id LIKE 'E%%'", (ext_urn, T))
        cur.execute("RESET session_replication_role")
        cur.execute("SELECT scim.scim_extension_index(%s, 'costCenter')", (ext_urn,))
        cur.execute("VACUUM ANALYZE scim.users")
        cur.execute("SELECT sum(pg_prewarm(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'scim' AND c.relkind IN ('r', 'i')")
        log(f"  extension attribute set up on {n:,} users in {time.time() - t0:.1f}s")
        cc_vals = [casing(f"cc-{existing(j):08d}") if j % 2 == 0 else f"cc-x{j:07d}" for j in range(k)]
        ccsw_vals = [f"CC-{existing(j):08d}"[:-1] if j % 2 == 0 else f"CC-Q{j:06d}" for j in range(k)]
        cases += [
            ("extension attr eq (indexed)", ext_urn + ':costCenter eq "{}"', cc_vals,
             f"scim.fold(r.resource->'{ext_urn}'->>'costCenter') = scim.fold(%s)", lambda v: (v,)),
            ("extension attr sw (indexed)", ext_urn + ':costCenter sw "{}"', ccsw_vals,
             f"scim.fold(r.resource->'{ext_urn}'->>'costCenter') LIKE scim.fold(%s)", lambda v: (v + "%",)),
        ]
        ours_sql = "SELECT scim.scim_list('User', %s, 1, 100)"
        details = {}
        for name, tmpl, vals, cond, bparams in cases:
            def ftext(v, tmpl=tmpl):
                return tmpl.format(*(q(x) for x in (v if isinstance(v, tuple) else (v,))))

            # pick the faster hand-written shape (8 calls each; the last 3 count,
            # after the plan cache's custom/generic decision)
            probe = {}
            cur.execute("SET statement_timeout = '3s'")
            for shape, (head, tail, twice) in shapes.items():
                ts = []
                for j in range(12):
                    v = vals[(2 * j + 1) % len(vals)] if j % 2 else vals[2 * j % len(vals)]
                    prm = (T, *bparams(v), T) if twice else (T, *bparams(v))
                    t0 = time.perf_counter()
                    try:
                        cur.execute(head + cond + tail, prm, prepare=True)
                        cur.fetchall()
                        ts.append(time.perf_counter() - t0)
                    except psycopg.errors.QueryCanceled:
                        ts.append(float("inf"))
                        break
                probe[shape] = statistics.median(ts[-5:])
            cur.execute("SET statement_timeout = 0")
            shape = min(probe, key=probe.get)
            head, tail, twice = shapes[shape]
            base_sql = head + cond + tail
            bp0 = bparams

            def bparams(v, bp0=bp0, twice=twice):  # noqa: F811 — the shape decides the parameter list
                return (*bp0(v), T) if twice else bp0(v)
            # Diagnostic variant: the hand-written query with the same JSON
            # projection scim_list uses (taken from scim_filter_sql).
            gen0 = cur.execute("SELECT scim.scim_filter_sql(%s)", (ftext(vals[0]),)).fetchone()[0]
            mproj = re.match(r"SELECT (.*) FROM scim\.users r WHERE", gen0, re.S)
            if not mproj:
                raise BenchError(f"unexpected scim_filter_sql shape: {gen0[:200]}")
            json_sql = base_sql.replace("r.resource,", mproj.group(1).replace("%", "%%") + ",", 1)
            # Equivalence: same ids in the same order and the same
            # totalResults; and the same-representation baseline returns
            # exactly scim_list's resources.
            for v in vals[:40]:
                lr = cur.execute(ours_sql, (ftext(v),), prepare=True).fetchone()[0]
                rows = cur.execute(base_sql, (T, *bparams(v)), prepare=True).fetchall()
                ids_o = [x["id"] for x in lr.get("Resources", [])]
                ids_b = [str(x[0]) for x in rows]
                tot_b = rows[0][2] if rows else 0
                if ids_o != ids_b or lr["totalResults"] != tot_b:
                    raise BenchError(f"filter {name}: scim_list and the hand-written SQL disagree for {v!r}: "
                                     f"{lr['totalResults']} vs {tot_b}, {ids_o[:3]} vs {ids_b[:3]}")
                reps = [x[1] for x in cur.execute(json_sql, (T, *bparams(v)), prepare=True).fetchall()]
                if reps != lr.get("Resources", []):
                    raise BenchError(f"filter {name}: the hand-written SQL with the SCIM projection does not "
                                     f"return scim_list's resources for {v!r}")
            hits = [cur.execute(ours_sql, (ftext(v),), prepare=True).fetchone()[0]["totalResults"] for v in vals[:200]]

            def f_ours(i, vals=vals, ftext=ftext):
                cur.execute(ours_sql, (ftext(vals[i % len(vals)]),), prepare=True)
                cur.fetchall()

            def f_base(i, vals=vals, base_sql=base_sql, bparams=bparams):
                cur.execute(base_sql, (T, *bparams(vals[i % len(vals)])), prepare=True)
                cur.fetchall()

            def f_json(i, vals=vals, json_sql=json_sql, bparams=bparams):
                cur.execute(json_sql, (T, *bparams(vals[i % len(vals)])), prepare=True)
                cur.fetchall()

            smp = self.interleave([("ours", f_ours), ("base", f_base), ("base_json", f_json)],
                                  s["list_iters"], s["list_cap_s"])
            so, sb, sj = stats_us(smp["ours"]), stats_us(smp["base"]), stats_us(smp["base_json"])
            # Where the time goes: plan + execution of the generated SQL vs the hand-written one.
            v0 = vals[0]
            gen = cur.execute("SELECT scim.scim_filter_sql(%s)", (ftext(v0),)).fetchone()[0]
            plan = [r[0] for r in cur.execute("EXPLAIN (COSTS OFF) " + gen).fetchall()]
            nodes = sorted({m.group(1).strip() for line in plan
                            for m in [re.search(r"((?:Bitmap |Parallel )?(?:Index Only Scan|Index Scan|Bitmap Index Scan|Bitmap Heap Scan|Seq Scan)(?: using| on)? \S+)", line)] if m})
            ana_gen = self.explain_times(cur, gen + " LIMIT 100")
            # server-side time of the whole scim_list call (median of 7), to split
            # client/protocol time from in-backend time
            srv = sorted(self.explain_times(cur, "SELECT scim.scim_list('User', "
                                            + psycopg.sql.quote(ftext(vals[j])) + ", 1, 100)")["execution_ms"]
                         for j in range(7))[3]
            base_lit = psycopg.ClientCursor(conn).mogrify(base_sql, (T, *bparams(v0)))
            ana_base = self.explain_times(cur, base_lit)
            matches = {"p50_totalResults": pct(hits, 50), "max_totalResults": max(hits)}
            actual = self.nested_plans("SELECT scim.scim_list('User', %s, 1, 100)", (ftext(vals[0]),))
            actual_nodes = sorted({m.group(1).strip() for p in actual for line in p["plan"]
                                   for m in [re.search(r"((?:Index Only Scan|Index Scan|Bitmap Index Scan|Seq Scan)(?: using| on)? \S+)", line)] if m})
            details[name] = {"filter_example": ftext(v0), "ours": so, "baseline": sb, "baseline_with_scim_json": sj,
                             "plan_nodes": nodes, "plan": plan, "explain_analyze_generated": ana_gen,
                             "explain_analyze_baseline": ana_base, "matches": matches,
                             "scim_list_server_ms": srv, "scim_list_actual_plans": actual,
                             "scim_list_actual_nodes": actual_nodes,
                             "baseline_sql": base_sql.replace("%s", "$n"),
                             "baseline_shape": shape, "shape_probe_ms": {k: round(v * 1000, 2) for k, v in probe.items()}}
            # The target compares with hand-written SQL that answers the
            # same request: the same resources (id, meta, groups included),
            # checked equal above. The bare-column query is a lower bound:
            # it returns the stored jsonb only.
            self.row("filter", f"scim_list {name} vs hand-written SQL, same representation (p50)", so["p50_us"],
                     sj["p50_us"], "µs", "lower", 1.5,
                     note=f"p95 {so['p95_us']}/{sj['p95_us']} µs; baseline: {shape} shape returning the SCIM "
                          f"representation (id, meta, groups), checked equal to scim_list's resources")
            self.row("filter", f"scim_list {name} vs hand-written SQL returning the stored jsonb only (p50)",
                     so["p50_us"], sb["p50_us"], "µs", "lower", None,
                     note=f"p95 {so['p95_us']}/{sb['p95_us']} µs; in-backend scim_list {srv * 1000:.0f} µs (EXPLAIN ANALYZE, "
                          f"median of 7); scim_filter_sql with literals: planning {ana_gen.get('planning_ms', 0) * 1000:.0f} µs, "
                          f"execution {ana_gen.get('execution_ms', 0) * 1000:.0f} µs; hand-written SQL with scim_list's JSON "
                          f"projection (id, meta, groups): {sj['p50_us']} µs; baseline shape: {shape} "
                          f"(probe ms: {', '.join(f'{k} {v * 1000:.2f}' for k, v in probe.items())}); "
                          f"scim_list's own statements (auto_explain): {', '.join(actual_nodes)}; plan: {', '.join(nodes) or 'no index node'}")
        # equality lookups (and the indexed extension prefix) must use an index
        for name in ("userName eq", "externalId eq", "emails[value eq]", "extension attr eq (indexed)",
                     "extension attr sw (indexed)"):
            nodes = details[name]["plan_nodes"]
            # the lookup itself (scan of scim.users) must be an index scan; the
            # groups sub-select of the representation is reported, not judged
            ok = any(re.search(r"Index .*users_", x) for x in nodes) and not any(
                x.startswith("Seq Scan on users") for x in nodes)
            self.row("filter", f"EXPLAIN scim_filter_sql({name}) uses an index", "yes" if ok else "NO",
                     None, "", "higher", None, note=", ".join(nodes), target_text="index scan on users")
            self.rows[-1]["verdict"] = "met" if ok else "MISSED"
        self.details["filter"] = details
        t0 = time.time()
        cur.execute("SET session_replication_role = replica")
        cur.execute("SELECT scim.scim_extension_schema_remove(%s, drop_data => true)", (ext_urn,))
        cur.execute("RESET session_replication_role")
        log(f"  extension attribute removed in {time.time() - t0:.1f}s")
        conn.close()

    def nested_plans(self, sql: str, params: tuple) -> list[dict]:
        """The plans scim_list's own SPI statements really run with (kept
        generic plans included), via auto_explain in a separate session."""
        notices: list[str] = []
        with self.connect() as c:
            c.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
            for st in ("LOAD 'auto_explain'", "SET auto_explain.log_min_duration = 0",
                       "SET auto_explain.log_nested_statements = on", "SET auto_explain.log_analyze = on",
                       "SET auto_explain.log_timing = off", "SET client_min_messages = log"):
                c.execute(st)
            for _ in range(7):  # past the plan cache's custom/generic decision
                notices.clear()
                c.execute(sql, params, prepare=True).fetchall()
        out = []
        for n in notices:
            m = re.match(r"duration: ([\d.]+) ms\s+plan:\s*Query Text: (.*?)\n(\S.*)$", n, re.S)
            if m and "scim.scim_list" not in m.group(2):
                out.append({"ms": float(m.group(1)), "query": m.group(2)[:300],
                            "plan": [x for x in m.group(3).splitlines() if x.strip()][:40]})
        return out

    def explain_times(self, cur, sql: str) -> dict:
        rows = [r[0] for r in cur.execute("EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON) " + sql).fetchall()]
        out = {}
        for line in rows:
            m = re.match(r"\s*(Planning|Execution) Time: ([\d.]+) ms", line)
            if m:
                out[m.group(1).lower() + "_ms"] = float(m.group(2))
        return out

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

    def bench_memory(self) -> None:
        s = self.s
        n = s["users"]
        self.ensure_release("memory")
        T = DEFAULT_TENANT
        gid = uuid.UUID(hashlib.md5(f"{SEED}-gn-bench-mem".encode()).hexdigest())
        total = s["mem_members"]
        res = {}
        # (a) a big group built by PATCHes of 1,000 members in one connection
        conn = self.connect()
        cur = conn.cursor()
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        start = self.proc_status(pid)
        stop, peak, th = self.watch(pid)
        series = []
        t0 = time.time()
        for c0 in range(0, total, 1000):
            ids = [str(det_uuid("u", i)) for i in range(1 + c0, min(total, c0 + 1000) + 1)]
            body = json.dumps({"schemas": [PATCH_SCHEMA], "Operations": [
                {"op": "add", "path": "members", "value": [{"value": x} for x in ids]}]})
            cur.execute("SELECT scim.scim_patch('Group', %s, %s::jsonb)", (str(gid), body), prepare=True)
            cur.fetchall()
            series.append(self.proc_status(pid))
        took = time.time() - t0
        # and read it back once (a GET of the whole group)
        t1 = time.time()
        got = cur.execute("SELECT jsonb_array_length(scim.scim_get('Group', %s)->'members')", (str(gid),)).fetchone()[0]
        get_s = time.time() - t1
        after_get = self.proc_status(pid)
        stop.set(); th.join()
        if got != total:
            raise BenchError(f"bench-mem has {got} members, expected {total}")
        res["patch"] = self.mem_summary(start, series, peak, after_get)
        res["patch"].update({"members": total, "chunks": len(series), "seconds": round(took, 2),
                             "get_seconds": round(get_s, 2)})
        cur.execute("SELECT scim.scim_patch('Group', %s, %s::jsonb)",
                    (str(gid), json.dumps({"schemas": [PATCH_SCHEMA], "Operations": [{"op": "remove", "path": "members"}]})))
        conn.close()
        # (b) a cursor walk through every user, pages of 1,000
        conn = self.connect()
        cur = conn.cursor()
        expected = cur.execute("SELECT count(*) FROM scim.users WHERE tenant_id = %s", (T,)).fetchone()[0]
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        start = self.proc_status(pid)
        stop, peak, th = self.watch(pid)
        series, page_ms = [], []
        seen, cursor_tok, pages = 0, "", 0
        t0 = time.time()
        max_pages = expected // 1000 + 5
        while pages < max_pages:
            tp = time.perf_counter()
            lr = cur.execute("SELECT scim.scim_list('User', NULL, 1, 1000, cursor => %s)", (cursor_tok,),
                             prepare=True).fetchone()[0]
            page_ms.append((time.perf_counter() - tp) * 1000)
            pages += 1
            seen += len(lr.get("Resources", []))
            if pages % 10 == 1 or "nextCursor" not in lr:
                series.append(self.proc_status(pid))
            cursor_tok = lr.get("nextCursor")
            if not cursor_tok:
                break
        took = time.time() - t0
        stop.set(); th.join()
        if seen != expected:
            raise BenchError(f"cursor walk saw {seen} users, expected {expected}")
        res["walk"] = self.mem_summary(start, series, peak, self.proc_status(pid) or series[-1])
        res["walk"].update({"users": seen, "pages": pages, "seconds": round(took, 1),
                            "page_ms_p50": round(pct(page_ms, 50), 1), "page_ms_p95": round(pct(page_ms, 95), 1),
                            "rows_per_s": round(seen / took)})
        # what a page costs: the count(*) for totalResults on every page after the first
        res["walk"]["count_query_ms"] = self.explain_times(
            cur, f"SELECT count(*) FROM scim.users r WHERE r.tenant_id = '{T}'")
        conn.close()
        for key, label in (("patch", f"PATCH {total:,} members in chunks of 1,000"),
                           ("walk", f"cursor walk of {res['walk']['users']:,} users, pages of 1,000")):
            m = res[key]
            self.row("memory", f"peak backend RSS: {label}", round(m["VmHWM_peak_mb"], 1), None, "MB (VmHWM)",
                     "lower", None, target_text="bounded",
                     note=f"private (RssAnon) peak {m['RssAnon_peak_mb']:.1f} MB, start {m['RssAnon_start_mb']:.1f} MB; "
                          f"{'grows' if m['grows'] else 'flat'} over the run ({m['trend']}); {m['seconds']} s")
            self.rows[-1]["verdict"] = "MISSED" if m["grows"] else "met"
        self.details["memory"] = res

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
        return f"127.0.0.1", port

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

    # ── 5. initial sync ─────────────────────────────────────────────────
    def bench_sync(self) -> None:
        s = self.s
        self.ensure_release("sync")
        U, G = s["sync_users"], s["sync_groups"]
        maxsize = U // 2
        alpha = (0 if G < 2 else __import__("math").log(maxsize) / __import__("math").log(G))
        sizes = [max(1, round(maxsize * (k ** -alpha))) for k in range(1, G + 1)]
        plan = {}
        for k in range(G):
            r = random.Random(f"{SEED}-sync-{k}")
            plan[k] = sorted(r.sample(range(U), sizes[k]))
        total_m = sum(sizes)
        host, gport = self.start_gateway()
        out = {}
        for mode in ("bulk", "single"):
            tenant = f"sync_{mode}_{self.run_id}"
            with self.connect() as c:
                c.execute("SELECT scim.scim_tenant_create(%s)", (tenant,))
            tok = self.token(tenant)
            log(f"  initial sync via {mode}: {U:,} users, {G:,} groups, {total_m:,} memberships "
                f"(group sizes {sizes[0]:,} … {sizes[-1]})")
            r = SyncRun(mode, gport, tok, U, G, plan).run()
            self.verify_sync(tenant, tok, gport, U, G, plan, r)
            out[mode] = r
            log(f"  {mode}: total {r['total_s']:.1f}s, users {r['users_per_s']:.0f}/s, "
                f"memberships {r['members_per_s']:.0f}/s, verified")
        self.stop_procs()
        b, si = out["bulk"], out["single"]
        self.row("sync", f"initial sync {U:,} users + {G:,} groups ({total_m:,} memberships): total time",
                 round(b["total_s"], 1), round(si["total_s"], 1), "s", "lower", None,
                 note=f"ours via /Bulk vs ours via single requests (2 clients each); phases bulk "
                      f"{b['phases_s']}, single {si['phases_s']}; all users and memberships verified")
        self.rows[-1]["baseline_label"] = "single requests"
        self.row("sync", "initial sync users/s (users phase)", round(b["users_per_s"]), round(si["users_per_s"]),
                 "users/s", "higher", None, note="/Bulk (100 ops per request) vs one POST per user")
        self.rows[-1]["baseline_label"] = "single requests"
        self.row("sync", "initial sync memberships/s (members phase)", round(b["members_per_s"]),
                 round(si["members_per_s"]), "members/s", "higher", None,
                 note="PATCH add ≤1,000 members per operation; /Bulk packs operations up to ~900 KB; "
                      "each group's operations go to one of the 2 clients (see Initial sync below)")
        self.rows[-1]["baseline_label"] = "single requests"
        self.details["sync"] = {"users": U, "groups": G, "memberships": total_m, "sizes_head": sizes[:10],
                                "sizes_tail": sizes[-5:], "alpha": round(alpha, 3), "runs": out}

    def verify_sync(self, tenant, tok, gport, U, G, plan, r) -> None:
        uids, gids = r.pop("_uids"), r.pop("_gids")
        with self.connect() as c:
            tid = c.execute("SELECT id FROM scim.tenants WHERE name = %s", (tenant,)).fetchone()[0]
            cu, cg, cm = c.execute("""SELECT (SELECT count(*) FROM scim.users WHERE tenant_id = %(t)s),
                                             (SELECT count(*) FROM scim.groups WHERE tenant_id = %(t)s),
                                             (SELECT count(*) FROM scim.members WHERE tenant_id = %(t)s)""",
                                   {"t": tid}).fetchone()
            exp_m = sum(len(v) for v in plan.values())
            if (cu, cg, cm) != (U, G, exp_m):
                raise BenchError(f"sync {r['mode']}: found {cu} users, {cg} groups, {cm} memberships; "
                                 f"expected {U}, {G}, {exp_m}")
            # every expected (group, member) pair present, by name (not just counts)
            c.execute("CREATE TEMP TABLE exp (grp text, usr text)")
            with c.cursor().copy("COPY exp (grp, usr) FROM STDIN") as cp:
                for k, members in plan.items():
                    for i in members:
                        cp.write_row((f"SyncGroup {k}", f"sync{i}@example.com"))
            c.execute("ANALYZE exp")
            c.execute("ANALYZE scim.users, scim.groups, scim.members")  # fresh stats after the sync
            c.execute("SET enable_nestloop = off")  # a full comparison: hash joins
            missing = c.execute("""
                SELECT count(*) FROM exp e LEFT JOIN (
                  SELECT g.display_name AS grp, u.user_name AS usr FROM scim.members m
                    JOIN scim.groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
                    JOIN scim.users u ON u.tenant_id = m.tenant_id AND u.id = m.member_id
                   WHERE m.tenant_id = %s) a ON a.grp = e.grp AND a.usr = e.usr
                 WHERE a.grp IS NULL""", (tid,)).fetchone()[0]
            c.execute("DROP TABLE exp")
            c.execute("RESET enable_nestloop")
            if missing:
                raise BenchError(f"sync {r['mode']}: {missing} expected memberships are missing")
        # spot checks through HTTP: users by filter, with their groups
        cl = Client("127.0.0.1", gport, "/scim/v2", tok)
        member_of = {}
        for k, members in plan.items():
            for i in members:
                member_of.setdefault(i, set()).add(gids[k])
        rnd = random.Random(f"{SEED}-spot")
        for i in rnd.sample(range(U), min(25, U)):
            st, body = cl.call("GET", "/Users?filter=" + urllib.parse.quote(f'userName eq "SYNC{i}@example.com"'))
            res = body.get("Resources", []) if st == 200 else []
            if len(res) != 1 or res[0]["id"] != uids[i]:
                raise BenchError(f"sync {r['mode']}: spot check of user {i} failed: {st} {str(body)[:200]}")
            got = {x["value"] for x in res[0].get("groups", [])}
            if got != member_of.get(i, set()):
                raise BenchError(f"sync {r['mode']}: user {i} has groups {len(got)}, expected {len(member_of.get(i, ()))}")
        for k in rnd.sample(range(G), min(5, G)):
            st, body = cl.call("GET", f"/Groups/{gids[k]}")
            got = {x["value"] for x in body.get("members", [])} if st == 200 else None
            if got != {uids[i] for i in plan[k]}:
                raise BenchError(f"sync {r['mode']}: spot check of group {k} failed ({st})")
        r["verified"] = {"users": cu, "groups": cg, "memberships": cm, "spot_checks": "25 users + 5 groups over HTTP"}

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

    # ── report ──────────────────────────────────────────────────────────
    def write(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "src", "crates", "sql",
                                "gateway"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        meta = {
            "mode": self.mode, "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "git": git + (" (+ uncommitted changes in src/crates/sql/gateway)" if dirty else ""),
            "scale": self.s, "seed": SEED, "cpus": os.cpu_count(),
            "loadavg_end": os.getloadavg(), "duration_s": round(time.time() - self.started),
            "build_checks": self.build_checks, "pinned_library": self.pinned_so,
            "postgres": self.pg_version(), "errors": self.errors,
        }
        (self.out / "results.json").write_text(json.dumps({"meta": meta, "rows": self.rows, "details": self.details},
                                                          indent=1, default=str) + "\n")
        (self.out / "results.md").write_text(self.markdown(meta))
        log(f"wrote {self.out / 'results.md'} and results.json")

    def pg_version(self) -> str:
        try:
            with psycopg.connect(self.dsn("postgres")) as c:
                return c.execute("SHOW server_version").fetchone()[0]
        except psycopg.Error:
            return "?"

    def markdown(self, meta: dict) -> str:
        def fmt(v):
            if v is None:
                return "—"
            if isinstance(v, float):
                return f"{v:,.1f}"
            if isinstance(v, int):
                return f"{v:,}"
            return str(v)

        L = [f"# scim_pg benchmark results ({meta['mode']} mode)", "",
             f"{meta['date']}, git {meta['git']}, PostgreSQL {meta['postgres']}, {meta['cpus']} cores "
             f"(shared with other work: figures are ratios of interleaved, side-by-side samples), "
             f"run took {meta['duration_s'] // 60} min. Reproduce: `scripts/bench{' --quick' if self.mode == 'quick' else ''}`.",
             "", "Cluster: `fsync = on`, `synchronous_commit = on` (durable, as a production server runs): "
             "every write figure includes the WAL flush at commit.",
             "", f"Scale: {self.s['users']:,} users and {self.s['groups']:,} groups in one tenant "
             f"(+ {len(self.s['patch_sizes'])} PATCH groups of {', '.join(f'{z:,}' for z in self.s['patch_sizes'])} members); "
             f"seed `{SEED}`.", "",
             "| case | ours | baseline | unit | ratio | target | verdict |",
             "| --- | ---: | ---: | --- | ---: | --- | --- |"]
        for r in self.rows:
            ratio = "—" if r["ratio"] is None else f"{r['ratio']:.2f}×"
            base = fmt(r["baseline"])
            if r.get("baseline_label"):
                base = f"{base} ({r['baseline_label']})"
            L.append(f"| {r['case']} | {fmt(r['ours'])} | {base} | {r['unit']} | {ratio} | {r['target']} | "
                     f"{'**MISSED**' if r['verdict'] == 'MISSED' else r['verdict']} |")
        if self.errors:
            L += ["", "## Errors", ""] + [f"- {e}" for e in self.errors]
        L += ["", "## Notes per case", ""]
        for r in self.rows:
            if r["note"]:
                L.append(f"- **{r['case']}**: {r['note']}")
        d = self.details
        L += ["", "## Baselines", "",
              "- filter: hand-written SQL on the same indexes, prepared, returning the same page "
              "in the faster of two shapes, chosen per filter by a probe in the same run: plain "
              "(`SELECT r.id, r.resource, count(*) OVER () FROM scim.users r WHERE r.tenant_id = $1 AND <condition> "
              "ORDER BY r.id LIMIT 100`) or materialized (`WITH m AS MATERIALIZED (SELECT r.id … WHERE …), "
              "p AS (SELECT id, count(*) OVER () … ORDER BY id LIMIT 100) SELECT … FROM p JOIN scim.users r …`; "
              "the plain shape gets a users_pkey walk for low-selectivity estimates such as `email_values @>`); "
              "ours is `SELECT scim.scim_list('User', $filter, 1, 100)`, prepared. Both checked to return the same ids "
              "and totalResults. The target row's baseline is that query with the SCIM representation in place of "
              "`r.resource` (`id`, `meta`, `groups`: what a hand-written endpoint must return; checked equal to "
              "scim_list's resources); the row with the stored jsonb only is a lower bound, reported without a "
              "target. Looked-up values vary per call (half existing, half not, mixed case); every scim relation "
              "is prewarmed (pg_prewarm) before the section.",
              "- PATCH: hand-written `INSERT INTO scim.members … ON CONFLICT DO NOTHING` (or `DELETE`) + version bump "
              "in one statement; ours `SELECT scim.scim_patch('Group', $id, $body)`. Each add is followed by the "
              "remove of the same member, so group sizes stay fixed.",
              "- HTTP: `scim2-server` from PyPI (in-memory reference server), same wrk scripts.",
              "- sync: the two ways of provisioning through our HTTP gateway compared with each other.",
              "- policy: bench/policy/run.sh (its own hand-written SQL baseline, pgbench -M prepared).", ""]
        if "data" in d:
            L += [f"Data load: {json.dumps(d['data'])}", ""]
        if "mt_data" in d:
            L += [f"Multi-tenant database (sections mt_*): {json.dumps(d['mt_data'])}", ""]
        if "mt_layers" in d:
            L += [f"## µs per GET /Users?filter=userName eq, one layer at a time (largest tenant, "
                  f"{d['mt_layers']['tenant_users']:,} users; p50, one client, round trip included)", "",
                  "| layer | µs |", "| --- | ---: |"]
            L += [f"| {x['layer']} | {x['p50_us']:,.1f} |" for x in d["mt_layers"]["table"]]
            L.append("")
        if "filter" in d:
            L += ["## Filter plans (EXPLAIN of `scim.scim_filter_sql(filter)`)", ""]
            for name, x in d["filter"].items():
                L.append(f"- `{x['filter_example']}`: {', '.join(x['plan_nodes']) or '(no index node)'}; "
                     f"as scim_list runs it (auto_explain): {', '.join(x.get('scim_list_actual_nodes', [])) or '?'}; "
                         f"EXPLAIN ANALYZE generated SQL {x['explain_analyze_generated']}, hand-written "
                         f"{x['explain_analyze_baseline']}; totalResults p50 {x['matches']['p50_totalResults']}")
            L.append("")
        if "memory" in d:
            L += ["## Memory", ""]
            for k, m in d["memory"].items():
                m2 = {kk: vv for kk, vv in m.items() if kk != "series_RssAnon_mb"}
                L.append(f"- {k}: {json.dumps(m2)}")
            L.append("")
        if "sync" in d:
            L += ["## Initial sync", "", f"Group sizes (skewed, size_k = {d['sync']['users'] // 2} · k^-{d['sync']['alpha']}): "
                  f"{d['sync']['sizes_head']} … {d['sync']['sizes_tail']}", ""]
            for mode, r in d["sync"]["runs"].items():
                L.append(f"- {mode}: {json.dumps({k: v for k, v in r.items()})}")
            L.append("")
        if "policy" in d:
            L += ["## Policy", "", f"Source: {d['policy'].get('source')}; raw output in `bench/results-policy.txt`.", ""]
        if "http" in d:
            L += ["## HTTP setup", "", f"- ours: {d['http']['setup']['gateway']}",
                  f"- baseline: {d['http']['setup']['scim2-server']}", ""]
        L += ["## Build checks", "", "Every section ran after a fresh connection reported `scim_build_info()`:", ""]
        L += [f"- {'before ' + c['before'] if 'before' in c else 'after ' + c['after']}: {c['build_info']}"
              for c in meta["build_checks"]]
        if meta["pinned_library"]:
            L += ["", "The benchmark database loads a private copy of the release library "
                      "(the shared extension directory may be rewritten by others mid-run)."]
        return "\n".join(L) + "\n"

    # ── driver ──────────────────────────────────────────────────────────
    def run(self) -> int:
        sections = [("filter", self.bench_filter), ("patch", self.bench_patch), ("memory", self.bench_memory),
                    ("http", self.bench_http), ("sync", self.bench_sync), ("policy", self.bench_policy),
                    ("limits", self.bench_limits), ("operations", self.bench_operations)]
        multitenant.log, multitenant.stats_us, multitenant.BenchError = log, stats_us, BenchError
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


def pkg_version(name: str) -> str:
    try:
        from importlib.metadata import version
        return version(name)
    except Exception:
        return "?"


class Client:
    """Minimal keep-alive SCIM client (http.client), JSON in and out."""

    def __init__(self, host: str, port: int, base: str, token: str):
        self.host, self.port, self.base, self.token = host, port, base, token
        self.c = None

    def call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/scim+json"}
        if data is not None:
            headers["Content-Type"] = "application/scim+json"
        for attempt in range(3):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection(self.host, self.port, timeout=120)
                self.c.request(method, self.base + path, body=data, headers=headers)
                r = self.c.getresponse()
                raw = r.read()
                if r.getheader("Connection", "").lower() == "close" or r.version == 10:
                    self.c.close()
                    self.c = None
                return r.status, (json.loads(raw) if raw else {})
            except (http.client.HTTPException, ConnectionError, OSError):
                if self.c:
                    self.c.close()
                self.c = None
                if attempt == 2:
                    raise
                time.sleep(0.2)


class SyncRun:
    """Provision U users, G groups and their memberships through the gateway
    with 2 parallel clients, either as /Bulk requests or single requests."""

    CHUNK = 1000  # members per PATCH operation

    def __init__(self, mode, port, token, U, G, plan):
        self.mode, self.port, self.token, self.U, self.G, self.plan = mode, port, token, U, G, plan
        self.uids: dict[int, str] = {}
        self.gids: dict[int, str] = {}
        self.retries = 0  # 409 "modified concurrently" answers retried (deadlocks between clients)
        self.lock = threading.Lock()

    def client(self):
        return Client("127.0.0.1", self.port, "/scim/v2", self.token)

    @staticmethod
    def user(i):
        f, l = display_name(i).split(" ")
        return {"schemas": [USER_SCHEMA, ENTERPRISE], "externalId": f"sync-{i}", "userName": f"sync{i}@example.com",
                "active": True, "displayName": f"{f} {l}", "name": {"givenName": f, "familyName": l},
                "emails": [{"value": f"{f.lower()}.{l.lower()}.{i}@sync.example.com", "type": "work", "primary": True}],
                ENTERPRISE: {"employeeNumber": str(i), "department": f"Dept {i % 50}"},
                "meta": {"resourceType": "User"}, "roles": []}

    @staticmethod
    def group(k):
        return {"schemas": [GROUP_SCHEMA], "displayName": f"SyncGroup {k}", "externalId": f"sync-g-{k}"}

    def patch_ops(self):
        ops = []
        for k in range(self.G):
            m = self.plan[k]
            for c0 in range(0, len(m), self.CHUNK):
                ops.append((k, [self.uids[i] for i in m[c0:c0 + self.CHUNK]]))
        return ops

    def split_by_group(self, ops):
        """Give each group's operations to one client (greedy by size), so the
        two clients never PATCH the same group at the same time: a /Bulk
        request is one transaction that keeps every group it touched locked
        until it ends, and two such requests sharing groups can deadlock
        (409 'deadlock detected'; SCIM_BENCH_SYNC_SHARED=1 shows it)."""
        if os.environ.get("SCIM_BENCH_SYNC_SHARED") == "1":
            return None
        load, owner = [0, 0], {}
        for k in sorted(self.plan, key=lambda k: -len(self.plan[k])):
            c = 0 if load[0] <= load[1] else 1
            owner[k] = c
            load[c] += len(self.plan[k])
        lists = [[], []]
        for op in ops:
            lists[owner[op[0]]].append(op)
        return lists

    def parallel_lists(self, lists, fn):
        def worker(items):
            cl = self.client()
            for x in items:
                fn(cl, x)
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            for f in [ex.submit(worker, items) for items in lists]:
                f.result()

    def parallel(self, items, fn):
        """2 clients, each with its own connection, over a shared queue."""
        lock = threading.Lock()
        it = iter(items)

        def worker():
            cl = self.client()
            while True:
                with lock:
                    x = next(it, None)
                if x is None:
                    return
                fn(cl, x)
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            for f in [ex.submit(worker) for _ in range(2)]:
                f.result()

    def run(self) -> dict:
        phases = {}
        t_all = time.time()
        if self.mode == "single":
            def post_user(cl, i):
                st, b = cl.call("POST", "/Users", self.user(i))
                if st != 201:
                    raise BenchError(f"POST /Users: {st} {str(b)[:300]}")
                self.uids[i] = b["id"]

            def post_group(cl, k):
                st, b = cl.call("POST", "/Groups", self.group(k))
                if st != 201:
                    raise BenchError(f"POST /Groups: {st} {str(b)[:300]}")
                self.gids[k] = b["id"]

            def patch(cl, op):
                k, ids = op
                for attempt in range(50):
                    st, b = cl.call("PATCH", f"/Groups/{self.gids[k]}", {"schemas": [PATCH_SCHEMA], "Operations": [
                        {"op": "Add", "path": "members", "value": [{"value": x, "$ref": None} for x in ids]}]})
                    if st == 409 and "concurrently" in str(b.get("detail", "")):
                        with self.lock:
                            self.retries += 1
                        time.sleep(0.01 * (attempt + 1))
                        continue
                    break
                if st not in (200, 204):
                    raise BenchError(f"PATCH /Groups: {st} {str(b)[:300]}")
            t = time.time(); self.parallel(range(self.U), post_user); phases["users"] = time.time() - t
            t = time.time(); self.parallel(range(self.G), post_group); phases["groups"] = time.time() - t
            ops = self.patch_ops()
            lists = self.split_by_group(ops)
            t = time.time()
            if lists:
                self.parallel_lists(lists, patch)
            else:
                self.parallel(ops, patch)
            phases["members"] = time.time() - t
            requests = self.U + self.G + len(ops)
        else:
            def bulk(cl, batch):
                kind, ops = batch
                pending, tries = list(ops), 0
                while pending:
                    st, b = cl.call("POST", "/Bulk", {"schemas": [BULK_SCHEMA], "failOnErrors": 1,
                                                      "Operations": [o for _, o in pending]})
                    if st != 200:
                        raise BenchError(f"POST /Bulk: {st} {str(b)[:300]}")
                    res = b.get("Operations", [])
                    done = 0
                    retry = False
                    for (key, op), r in zip(pending, res):
                        if not str(r.get("status")).startswith("2"):
                            detail = str(r.get("response", {}).get("detail", ""))
                            # 409 "modified concurrently; retry": the operations from
                            # this one on were not applied; send them again.
                            if str(r.get("status")) == "409" and "concurrently" in detail and tries < 50:
                                retry = True
                                break
                            raise BenchError(f"/Bulk operation {op['method']} {op['path']} failed: {str(r)[:600]}")
                        if kind == "user":
                            self.uids[key] = r["location"].rsplit("/", 1)[1]
                        elif kind == "group":
                            self.gids[key] = r["location"].rsplit("/", 1)[1]
                        done += 1
                    if not retry and done != len(pending):
                        raise BenchError(f"/Bulk answered {len(res)} operations for {len(pending)}")
                    pending = pending[done:]
                    if retry:
                        tries += 1
                        with self.lock:
                            self.retries += 1
                        time.sleep(0.01 * tries)

            def batches(kind, ops, max_ops=100, max_bytes=900_000):
                out, cur, size = [], [], 0
                for key, op in ops:
                    sz = len(json.dumps(op))
                    if cur and (len(cur) >= max_ops or size + sz > max_bytes):
                        out.append((kind, cur)); cur, size = [], 0
                    cur.append((key, op)); size += sz
                if cur:
                    out.append((kind, cur))
                return out
            ub = batches("user", [(i, {"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": self.user(i)})
                                  for i in range(self.U)])
            t = time.time(); self.parallel(ub, bulk); phases["users"] = time.time() - t
            gb = batches("group", [(k, {"method": "POST", "path": "/Groups", "bulkId": f"g{k}", "data": self.group(k)})
                                   for k in range(self.G)])
            t = time.time(); self.parallel(gb, bulk); phases["groups"] = time.time() - t
            pops = [(k, {"method": "PATCH", "path": f"/Groups/{self.gids[k]}", "data": {
                "schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "members",
                                                           "value": [{"value": x} for x in ids]}]}})
                    for k, ids in self.patch_ops()]
            lists = self.split_by_group(pops)
            t = time.time()
            if lists:
                mbs = [batches("members", x) for x in lists]
                self.parallel_lists(mbs, bulk)
                nmb = sum(len(x) for x in mbs)
            else:
                mb = batches("members", pops)
                self.parallel(mb, bulk)
                nmb = len(mb)
            phases["members"] = time.time() - t
            requests = len(ub) + len(gb) + nmb
        total = time.time() - t_all
        nm = sum(len(v) for v in self.plan.values())
        return {"mode": self.mode, "total_s": round(total, 2), "phases_s": {k: round(v, 2) for k, v in phases.items()},
                "users_per_s": self.U / phases["users"], "members_per_s": nm / phases["members"],
                "http_requests": requests, "retries_409": self.retries, "_uids": self.uids, "_gids": self.gids}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["quick", "full"], default="quick")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--http-port", type=int, default=18480)
    ap.add_argument("--data", required=True)
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--pids", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--reuse", default="0")
    ap.add_argument("--mt-largest", type=int, default=0,
                    help="users in the largest tenant of the multi-tenant sections (default: the mode's)")
    ap.add_argument("--render-only", action="store_true", help="rebuild results.md from results.json")
    a = ap.parse_args()
    if a.render_only:
        d = json.loads((Path(a.out) / "results.json").read_text())
        b = Bench(a)
        b.mode, b.s = d["meta"]["mode"], d["meta"]["scale"]
        b.rows, b.details, b.errors = d["rows"], d["details"], d["meta"]["errors"]
        b.pinned_so = d["meta"]["pinned_library"]
        (Path(a.out) / "results.md").write_text(b.markdown(d["meta"]))
        return 0
    b = Bench(a)
    try:
        return b.run()
    finally:
        b.stop_procs()


if __name__ == "__main__":
    sys.exit(main())
