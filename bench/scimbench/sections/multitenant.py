"""Multi-tenant benchmarks (issue 15), a section module of bench/bench.py.

One database, `scim_bench_mt`, holds T tenants whose sizes follow a Zipf
law (the largest `largest` users, most under 1,000), with groups and
memberships to match. Sections (each takes the Bench instance `b`):

- `mt_filter`: the filter shapes identity providers send, in the largest
  tenant and in a small one, scim_list vs hand-written SQL returning the
  same representation (the faster of a kept generic plan and a plan per
  call), interleaved.
- `mt_walk`: a cursor walk of the largest tenant (pages of 1,000) with the
  cursors as issued (totalResults counted once) vs the same walk with the
  total stripped from each cursor (what every page did before: recount),
  and the backend's private memory over the walk.
- `mt_layers`: µs per GET /Users?filter=userName eq, one layer at a time,
  from hand-written SQL to scim.scim_http, plus the SQL-language wrapper
  scim_http used to be, side by side.
- `mt_write`: scim_create_user per row vs a PL/pgSQL loop of single-row
  INSERTs of the same JSON into an equally indexed copy of scim.users.
- `mt_http`: the gateway vs the floor server (bench/floor: the gateway's
  stack and pool size, one hand-written statement per request returning
  the same representation) for GET-by-filter, GET-by-id, POST, PUT,
  PATCH-user and PATCH-group-member, wrk rounds interleaved, in the
  largest tenant.

Every figure is a ratio of samples taken side by side in the same run.
"""

from __future__ import annotations

import base64
import json
import math
import statistics
import hashlib
import re
import time
import urllib.parse
import uuid

import psycopg

MT_DB = "scim_bench_mt"
HTTP_IDS = 2000  # users of the largest tenant that mt_http rewrites

# Set by bench/bench.py (its helpers; this module does not import the script).
from ..common import ROOT, BenchError, log, stats_us
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


def without_member_display(resources: list) -> list:
    """scim_list leaves member `display` out of listed groups (it projects
    group lists in Rust); scim_filter_sql's projection, which the
    hand-written group list uses, renders it: compared without it."""
    out = []
    for r in resources:
        if isinstance(r, dict) and isinstance(r.get("members"), list):
            r = dict(r, members=[{k: v for k, v in m.items() if k != "display"} for m in r["members"]])
        out.append(r)
    return out


def zipf_sizes(tenants: int, largest: int, smallest: int = 10) -> list[int]:
    """size_k = largest · k^-s, s such that the last tenant has `smallest`."""
    s = math.log(largest / smallest) / math.log(tenants) if tenants > 1 else 1.0
    return [max(smallest, round(largest * k ** -s)) for k in range(1, tenants + 1)], s


def tenant_uuid(k: int) -> uuid.UUID:
    return uuid.UUID(bytes=bytes.fromhex(f"{k:032x}"))


class MultiTenant:
    def __init__(self, b):
        self.b = b
        self.s = b.s
        self.sizes, self.alpha = zipf_sizes(self.s["mt_tenants"], self.s["mt_largest"])
        # the measured small tenant: the first one under 1,000 users
        self.small = next((k for k, n in enumerate(self.sizes, 1) if n < 1000), len(self.sizes))

    def connect(self, **kw) -> psycopg.Connection:
        return self.b.connect(db=MT_DB, **kw)

    def scale_text(self) -> str:
        n = sum(self.sizes)
        return (f"{len(self.sizes):,} tenants, Zipf sizes (size_k = {self.sizes[0]:,} · k^-{self.alpha:.3f}): "
                f"{n:,} users in all, largest {self.sizes[0]:,}, tenant #{self.small} has {self.sizes[self.small - 1]:,}, "
                f"{sum(1 for x in self.sizes if x < 1000):,} tenants under 1,000")

    # ── data ────────────────────────────────────────────────────────────
    def setup(self) -> None:
        b = self.b
        marker = f"mt tenants={len(self.sizes)} largest={self.sizes[0]} v1"
        with psycopg.connect(b.dsn("postgres"), autocommit=True) as c:
            exists = c.execute("SELECT 1 FROM pg_database WHERE datname = %s", (MT_DB,)).fetchone()
            if exists and b.a.reuse == "1":
                try:
                    with psycopg.connect(b.dsn(MT_DB), autocommit=True) as d:
                        if d.execute("SELECT obj_description('scim.tenants'::regclass)").fetchone()[0] == marker:
                            log("  reusing the multi-tenant database (SCIM_BENCH_REUSE=1)")
                            return
                except psycopg.Error:
                    pass
            if exists:
                c.execute(f"DROP DATABASE {MT_DB} WITH (FORCE)")
            c.execute(f"CREATE DATABASE {MT_DB}")
        t0 = time.time()
        with psycopg.connect(b.dsn(MT_DB), autocommit=True) as c:
            c.execute("CREATE EXTENSION btree_gin")
            c.execute("CREATE EXTENSION pg_trgm")
            c.execute("CREATE EXTENSION scim_pg")
            c.execute("SET maintenance_work_mem = '1GB'")
            c.execute("CREATE TEMP TABLE sizes (k int PRIMARY KEY, tid uuid, n int)")
            with c.cursor().copy("COPY sizes (k, tid, n) FROM STDIN") as cp:
                for k, n in enumerate(self.sizes, 1):
                    cp.write_row((k, tenant_uuid(k), n))
            c.execute("INSERT INTO scim.tenants (id, name) SELECT tid, 'mt-' || k FROM sizes")
            c.execute("SET session_replication_role = replica")  # consistent by construction
            idx = c.execute("""
                SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
                 WHERE i.indrelid IN ('scim.users'::regclass, 'scim.groups'::regclass, 'scim.members'::regclass)
                   AND NOT i.indisprimary
                   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)""").fetchall()
            for name, _ in idx:
                c.execute(f"DROP INDEX {name}")
            c.execute(f"""
                INSERT INTO scim.users (tenant_id, id, user_name, external_id, display_name, active,
                                        email_values, created, last_modified, version, resource)
                SELECT tid, md5(k || '-u-' || i)::uuid, un, ext, dn, true, ARRAY[scim.fold(em)],
                       ts, ts, 1,
                       jsonb_build_object('schemas', jsonb_build_array('{USER_SCHEMA}'),
                         'userName', un, 'externalId', ext, 'displayName', dn, 'active', true,
                         'name', jsonb_build_object('givenName', 'Given' || (i % 97), 'familyName', 'Family' || (i % 101)),
                         'emails', jsonb_build_array(jsonb_build_object('value', em, 'type', 'work', 'primary', true)))
                  FROM (SELECT s.k, s.tid, i, 'user' || i || '@t' || s.k || '.example.com' AS un,
                               'E' || s.k || '-' || i AS ext,
                               'Given' || (i % 97) || ' Family' || (i % 101) AS dn,
                               'given' || (i % 97) || '.family' || (i % 101) || '.' || i || '@t' || s.k || '.corp.example.com' AS em,
                               timestamptz '2024-01-01 00:00:00+00' + make_interval(secs => i) AS ts
                          FROM sizes s, generate_series(1, s.n) i) x""")
            # groups: one per 10 users (at least 1); every user in 2 groups
            c.execute(f"""
                INSERT INTO scim.groups (tenant_id, id, display_name, external_id, resource)
                SELECT s.tid, md5(s.k || '-g-' || g)::uuid, 'Group ' || g, 'G' || g,
                       jsonb_build_object('schemas', jsonb_build_array('{GROUP_SCHEMA}'), 'displayName', 'Group ' || g,
                                          'externalId', 'G' || g)
                  FROM sizes s, generate_series(1, greatest(1, s.n / 10)) g""")
            c.execute("""
                INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
                SELECT DISTINCT s.tid, md5(s.k || '-g-' || g)::uuid, md5(s.k || '-u-' || i)::uuid, 'User'
                  FROM sizes s, generate_series(1, s.n) i,
                       LATERAL (VALUES (1 + i % greatest(1, s.n / 10)), (1 + (31 * i + 7) % greatest(1, s.n / 10))) v(g)""")
            for name, ddl in idx:
                c.execute(ddl)
            c.execute("RESET session_replication_role")
            c.execute("VACUUM (ANALYZE) scim.tenants, scim.users, scim.groups, scim.members")
            c.execute(f"COMMENT ON TABLE scim.tenants IS '{marker}'")
            n = c.execute("SELECT (SELECT count(*) FROM scim.users), (SELECT count(*) FROM scim.members), "
                          "pg_size_pretty(pg_database_size(current_database()))").fetchone()
        b.details["mt_data"] = {"scale": self.scale_text(), "users": n[0], "memberships": n[1], "db_size": n[2],
                                "load_s": round(time.time() - t0, 1)}
        log(f"  loaded {self.scale_text()} ({n[1]:,} memberships, {n[2]}) in {time.time() - t0:.0f}s")

    # ── filters in the largest and a small tenant ───────────────────────
    def bench_filter(self) -> None:
        b = self.b
        conn = self.connect()
        cur = conn.cursor()
        auto = self.connect()
        custom = self.connect()
        custom.execute("SET plan_cache_mode = force_custom_plan")
        cur.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
        cur.execute("""SELECT sum(pg_prewarm(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = 'scim' AND c.relkind IN ('r', 'i')""")
        ours_sql = "SELECT scim.scim_list(%s, %s, 1, 100)"
        rows = {}
        for k in (1, self.small):
            n = self.sizes[k - 1]
            tid = tenant_uuid(k)
            conn.execute("SELECT set_config('scim.tenant', %s, false)", (str(tid),))
            # users below the last HTTP_IDS of the largest tenant: mt_http
            # rewrites those (PUT), and a reused database keeps them so
            vals = [1 + (j * 7919) % max(1, n - HTTP_IDS) for j in range(256)]

            def em(i, k=k):
                return f"given{i % 97}.family{i % 101}.{i}@t{k}.corp.example.com"
            cases = [
                ("User", "userName eq", lambda i, k=k: f'userName eq "USER{i}@T{k}.EXAMPLE.COM"',
                 "scim.fold(r.user_name) = scim.fold(%s)", lambda i, k=k: (f"user{i}@t{k}.example.com",)),
                ("User", "externalId eq", lambda i, k=k: f'externalId eq "E{k}-{i}"',
                 "r.external_id = %s", lambda i, k=k: (f"E{k}-{i}",)),
                ("User", 'emails[type eq "work" and value eq …]',
                 lambda i: f'emails[type eq "work" and value eq "{em(i).upper()}"]',
                 "r.email_values @> ARRAY[scim.fold(%s)] AND r.resource->'emails' @> '[{\"type\": \"work\"}]'",
                 lambda i: (em(i),)),
                ("User", 'emails[type eq "work"].value eq …',
                 lambda i: f'emails[type eq "work"].value eq "{em(i)}"',
                 "r.email_values @> ARRAY[scim.fold(%s)] AND r.resource->'emails' @> '[{\"type\": \"work\"}]'",
                 lambda i: (em(i),)),
                ("Group", "displayName eq", lambda i: f'displayName eq "group {1 + i % max(1, n // 10)}"',
                 "scim.fold(r.display_name) = scim.fold(%s)", lambda i: (f"group {1 + i % max(1, n // 10)}",)),
                ("Group", "members[value eq …]",
                 lambda i, k=k: f'members[value eq "{uuid.UUID(hashlib.md5(f"{k}-u-{i}".encode()).hexdigest())}"]',
                 "EXISTS (SELECT 1 FROM scim.members m WHERE m.tenant_id = r.tenant_id AND m.group_id = r.id "
                 "AND m.member_id = %s::uuid)",
                 lambda i, k=k: (str(uuid.UUID(hashlib.md5(f"{k}-u-{i}".encode()).hexdigest())),)),
            ]
            for rt, name, ftext, cond, bparams in cases:
                table = "users" if rt == "User" else "groups"
                gen = cur.execute("SELECT scim.scim_filter_sql(%s, %s)", (ftext(vals[0]), rt)).fetchone()[0]
                m = re.match(rf"SELECT (.*) FROM scim\.{table} r WHERE", gen, re.S)
                if not m:
                    raise BenchError(f"unexpected scim_filter_sql shape: {gen[:200]}")
                proj = m.group(1)
                base = (f"SELECT r.id, {proj.replace('%', '%%')}, count(*) OVER () FROM scim.{table} r "
                        f"WHERE r.tenant_id = %s AND {cond} ORDER BY r.id LIMIT 100")
                for i in vals[:20]:  # same resources, same totalResults
                    lr = cur.execute(ours_sql, (rt, ftext(i)), prepare=True).fetchone()[0]
                    got = auto.execute(base, (tid, *bparams(i)), prepare=True).fetchall()
                    if (without_member_display([x[1] for x in got]) != without_member_display(lr.get("Resources", []))
                            or lr["totalResults"] != (got[0][2] if got else 0)):
                        raise BenchError(f"mt filter {name}: scim_list and the hand-written SQL disagree for {i}")
                    if lr["totalResults"] < 1:
                        raise BenchError(f"mt filter {name}: no match for {ftext(i)!r}")

                def f_ours(j, ftext=ftext, rt=rt):
                    cur.execute(ours_sql, (rt, ftext(vals[j % len(vals)])), prepare=True).fetchall()

                def f_auto(j, base=base, bparams=bparams, tid=tid):
                    auto.execute(base, (tid, *bparams(vals[j % len(vals)])), prepare=True).fetchall()

                def f_custom(j, base=base, bparams=bparams, tid=tid):
                    custom.execute(base, (tid, *bparams(vals[j % len(vals)])), prepare=True).fetchall()
                smp = b.interleave([("ours", f_ours), ("auto", f_auto), ("custom", f_custom)],
                                   self.s["list_iters"], self.s["list_cap_s"] / 2)
                so = stats_us(smp["ours"])
                sa, sc = stats_us(smp["auto"]), stats_us(smp["custom"])
                best, which = (sa, "kept generic plan") if sa["p50_us"] <= sc["p50_us"] else (sc, "plan per call")
                label = "largest" if k == 1 else "small"
                rows[(label, name)] = (so, sa, sc)
                b.row("mt_filter", f"{rt} {name}, {label} tenant ({n:,} users) vs hand-written SQL, same representation (p50)",
                      so["p50_us"], best["p50_us"], "µs", "lower", 1.5,
                      note=f"p95 {so['p95_us']}/{best['p95_us']} µs; baseline: {which} (generic {sa['p50_us']} µs, "
                           f"per call {sc['p50_us']} µs); {self.scale_text()}"
                           + ("; the baseline renders member display, which scim_list leaves out of group lists"
                              if rt == "Group" else ""))
        conn.close(); auto.close(); custom.close()
        b.details["mt_filter"] = {f"{a}/{n}": {"ours": o, "generic": g, "per_call": c} for (a, n), (o, g, c) in rows.items()}

    # ── cursor walk of the largest tenant ───────────────────────────────
    def bench_walk(self) -> None:
        b = self.b
        tid = tenant_uuid(1)
        expected = self.sizes[0]

        def strip_total(c: str) -> str:
            raw = json.loads(base64.urlsafe_b64decode(c + "=" * (-len(c) % 4)))
            raw.pop("total", None)
            return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")

        def walk(recount: bool) -> dict:
            conn = self.connect()
            conn.execute("SELECT set_config('scim.tenant', %s, false)", (str(tid),))
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            start = b.proc_status(pid)
            stop, peak, th = b.watch(pid)
            series, seen, tok, pages, totals = [], 0, "", 0, set()
            t0 = time.time()
            while pages < expected // 1000 + 5:
                # the page arrives as text, as a client receives it; only
                # the paging fields are read out (no client-side parse)
                got, total, tok, size = conn.execute(
                    "SELECT jsonb_array_length(r->'Resources'), (r->>'totalResults')::int, r->>'nextCursor', "
                    "octet_length(r::text) FROM scim.scim_list('User', NULL, 1, 1000, cursor => %s) r", (tok,),
                    prepare=True).fetchone()
                pages += 1
                seen += got
                totals.add(total)
                if pages % 10 == 1:
                    series.append(b.proc_status(pid))
                if not tok:
                    break
                if recount:
                    tok = strip_total(tok)
            took = time.time() - t0
            stop.set(); th.join()
            series.append(b.proc_status(pid))
            conn.close()
            if seen != expected or totals != {expected}:
                raise BenchError(f"walk saw {seen} users, totals {totals}; expected {expected}")
            out = b.mem_summary(start, series, peak, series[-1])
            out.update({"pages": pages, "seconds": round(took, 2), "rows_per_s": round(seen / took)})
            return out
        res = {"once": [], "recount": []}
        for r in range(2):
            for mode in (("once", "recount") if r == 0 else ("recount", "once")):
                res[mode].append(walk(mode == "recount"))
                log(f"  walk ({mode}): {res[mode][-1]['rows_per_s']:,} rows/s")
        once = statistics.median(x["rows_per_s"] for x in res["once"])
        rec = statistics.median(x["rows_per_s"] for x in res["recount"])
        m = res["once"][-1]
        b.row("mt_walk", f"cursor walk of the largest tenant ({expected:,} users, pages of 1,000): totalResults "
              f"carried in the cursor vs recounted on every page", round(once), round(rec), "rows/s", "higher", None,
              note=f"median of 2 walks each, interleaved; {self.scale_text()}")
        b.row("mt_walk", f"cursor walk of {expected:,} users: rows/s (target 30,000 at 1M users)", round(once), 30_000,
              "rows/s", "higher", 1.0, target_text="≥ 30,000 rows/s")
        b.rows[-1]["baseline_label"] = "target"
        b.row("mt_walk", f"cursor walk of {expected:,} users: backend private memory", round(m["RssAnon_peak_mb"], 1),
              None, "MB (RssAnon peak)", "lower", None, target_text="flat",
              note=m["trend"])
        b.rows[-1]["verdict"] = "MISSED" if m["grows"] else "met"
        b.details["mt_walk"] = {k: [{kk: vv for kk, vv in x.items() if kk != "series_RssAnon_mb"} for x in v]
                                for k, v in res.items()}

    # ── the request path, one layer at a time ───────────────────────────
    def bench_layers(self) -> None:
        b = self.b
        k = 1
        tid = tenant_uuid(k)
        n = self.sizes[0]
        c = self.connect()
        c.execute("SELECT set_config('scim.tenant', %s, false)", (str(tid),))
        tok = c.execute("SELECT scim.scim_token_issue('bench-layers')").fetchone()[0]
        # scim_http as it was: a SQL function, SECURITY DEFINER, pinned
        # search_path (not inlinable: parsed and planned on every call).
        c.execute("""CREATE OR REPLACE FUNCTION public.bench_scim_http_sql(method text, path text, query text,
                                                                         headers jsonb, body text)
                     RETURNS scim.http_response LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
                     AS $$ SELECT * FROM scim._http(NULL, method, path, query, headers, body) $$""")
        hdr = json.dumps({"authorization": f"Bearer {tok}"})
        gen = c.execute("SELECT scim.scim_filter_sql('userName eq \"x\"')").fetchone()[0]
        proj = re.match(r"SELECT (.*) FROM scim\.users r WHERE", gen, re.S).group(1).replace("%", "%%")
        conns = {name: self.connect() for name in ("sql", "render", "list", "dispatch_t", "dispatch", "http_entry",
                                                    "scim_http", "scim_http_sql")}
        conns["list"].execute("SELECT set_config('scim.tenant', %s, false)", (str(tid),))
        vals = [1 + (j * 7919) % n for j in range(512)]

        def q(i):
            return "filter=" + urllib.parse.quote(f'userName eq "user{i}@t{k}.example.com"')
        layers = [
            ("hand-written SQL (stored jsonb)", "sql",
             "SELECT r.resource FROM scim.users r WHERE r.tenant_id = %s AND scim.fold(r.user_name) = scim.fold(%s)",
             lambda i: (tid, f"user{i}@t{k}.example.com")),
            ("+ scim_pg's rendering (id, meta, groups)", "render",
             f"SELECT {proj} FROM scim.users r WHERE r.tenant_id = %s AND scim.fold(r.user_name) = scim.fold(%s)",
             lambda i: (tid, f"user{i}@t{k}.example.com")),
            ("scim_list (tenant from the GUC)", "list", "SELECT scim.scim_list('User', %s, 1, 100)",
             lambda i: (f'userName eq "user{i}@t{k}.example.com"',)),
            ("HTTP dispatch, tenant given (scim._http_dispatch)", "dispatch_t",
             "SELECT scim._http_dispatch(%s, 'GET', '/Users', %s, %s::jsonb, NULL)", lambda i: (tid, q(i), hdr)),
            ("+ token authentication", "dispatch",
             "SELECT scim._http_dispatch(NULL, 'GET', '/Users', %s, %s::jsonb, NULL)", lambda i: (q(i), hdr)),
            ("+ sub-transaction and log (scim._http, Rust)", "http_entry",
             "SELECT * FROM scim._http(NULL, 'GET', '/Users', %s, %s::jsonb, NULL)", lambda i: (q(i), hdr)),
            ("scim.scim_http (this build: the library function itself)", "scim_http",
             "SELECT * FROM scim.scim_http('GET', '/Users', %s, %s::jsonb, NULL)", lambda i: (q(i), hdr)),
            ("scim_http as a SQL-language wrapper (before)", "scim_http_sql",
             "SELECT * FROM public.bench_scim_http_sql('GET', '/Users', %s, %s::jsonb, NULL)", lambda i: (q(i), hdr)),
        ]
        for _, cn, sql, prm in layers:  # sanity: a 200 with the user
            r = conns[cn].execute(sql, prm(vals[0]), prepare=True).fetchone()
            if cn.startswith("dispatch") and r[0].get("status") != 200:
                raise BenchError(f"layer {cn}: {str(r)[:300]}")

        def fn(cn, sql, prm):
            return lambda j: conns[cn].execute(sql, prm(vals[j % len(vals)]), prepare=True).fetchall()
        smp = b.interleave([(cn, fn(cn, sql, prm)) for _, cn, sql, prm in layers], self.s["list_iters"],
                           self.s["list_cap_s"])
        st = {cn: stats_us(smp[cn]) for _, cn, _, _ in layers}
        table = []
        for label, cn, _, _ in layers:
            table.append({"layer": label, "p50_us": st[cn]["p50_us"]})
        b.details["mt_layers"] = {"table": table, "tenant_users": n}
        b.row("mt_layers", "scim.scim_http (library function) vs the SQL-language wrapper it once was, GET /Users?filter (p50)",
              st["scim_http"]["p50_us"], st["scim_http_sql"]["p50_us"], "µs", "lower", None,
              note="client round trip included; layer table below")
        b.row("mt_layers", "scim.scim_http vs hand-written SQL with the same rendering, GET /Users?filter (p50)",
              st["scim_http"]["p50_us"], st["render"]["p50_us"], "µs", "lower", None,
              note="; ".join(f"{x['layer']}: {x['p50_us']} µs" for x in table))
        for x in conns.values():
            x.close()
        c.execute("DROP FUNCTION public.bench_scim_http_sql(text, text, text, jsonb, text)")
        c.close()

    # ── the write path ──────────────────────────────────────────────────
    def bench_write(self) -> None:
        b = self.b
        n = self.s["mt_write_rows"]
        c = self.connect()
        c.execute("DROP TABLE IF EXISTS public.bench_users")
        c.execute("CREATE TABLE public.bench_users (LIKE scim.users INCLUDING ALL)")
        res = {"ours": [], "base": []}
        k = self.small
        c.execute("SELECT set_config('scim.tenant', %s, false)", (str(tenant_uuid(k)),))
        body = (f"jsonb_build_object('schemas', jsonb_build_array('{USER_SCHEMA}'), 'userName', 'w' || %s || '-' || i || '@w.example', "
                "'displayName', 'Writer ' || i, 'active', true, 'externalId', 'W' || %s || '-' || i, "
                "'emails', jsonb_build_array(jsonb_build_object('value', 'w' || i || '@w.example', 'type', 'work')))")
        ours = f"SELECT count(scim.scim_create_user({body})) FROM generate_series(1, %s) i"
        base = f"""DO $$ DECLARE j jsonb; BEGIN
                     FOR i IN 1..{n} LOOP
                       j := {body.replace('%s', "'{tag}'")};
                       INSERT INTO public.bench_users (tenant_id, user_name, external_id, display_name, active,
                                                       email_values, resource)
                       VALUES ('{tenant_uuid(k)}', j->>'userName', j->>'externalId', j->>'displayName',
                               (j->>'active')::boolean,
                               ARRAY(SELECT scim.fold(e->>'value') FROM jsonb_array_elements(j->'emails') e), j);
                     END LOOP; END $$"""
        # set-based: scim_import vs INSERT … SELECT of the same JSON
        c.execute("SELECT set_config('scim.max_bulk_operations', %s, false)", (str(n),))
        imp = f"SELECT count(*) FILTER (WHERE status = 201) FROM scim.scim_import(ARRAY(SELECT {body} FROM generate_series(1, %s) i))"
        ins = f"""INSERT INTO public.bench_users (tenant_id, user_name, external_id, display_name, active, email_values, resource)
                  SELECT %s, j->>'userName', j->>'externalId', j->>'displayName', (j->>'active')::boolean,
                         ARRAY(SELECT scim.fold(e->>'value') FROM jsonb_array_elements(j->'emails') e), j
                    FROM (SELECT {body} AS j FROM generate_series(1, %s) i) s"""
        res.update({"import": [], "insert_select": []})
        for r in range(4):
            for who in (("ours", "base", "import", "insert_select") if r % 2 == 0
                        else ("insert_select", "import", "base", "ours")):
                tag = f"{b.run_id}r{r}{who}"
                t0 = time.perf_counter()
                if who == "ours":
                    c.execute(ours, (tag, tag, n))
                elif who == "base":
                    c.execute(base.replace("{tag}", tag))
                elif who == "import":
                    got = c.execute(imp, (tag, tag, n)).fetchone()[0]
                    if got != n:
                        raise BenchError(f"scim_import created {got} of {n}")
                else:
                    c.execute(ins, (tenant_uuid(k), tag, tag, n))
                dt = time.perf_counter() - t0
                if r > 0:
                    res[who].append(n / dt)
        o, bb = statistics.median(res["ours"]), statistics.median(res["base"])
        b.row("mt_write", f"scim_create_user, one per row ({n:,} rows in one statement) vs a PL/pgSQL loop of "
              "single-row INSERTs into an equally indexed copy of scim.users", round(o), round(bb), "rows/s",
              "higher", 0.5, note=f"median of 3 each, interleaved; tenant #{k}; fsync = on")
        io_, isel = statistics.median(res["import"]), statistics.median(res["insert_select"])
        b.row("mt_write", f"scim_import of {n:,} users (one call) vs INSERT … SELECT of the same JSON into an "
              "equally indexed copy of scim.users", round(io_), round(isel), "rows/s", "higher", 0.5,
              note=f"median of 3 each, interleaved; scim_import / scim_create_user per row: {io_ / o:.1f}×")
        c.execute("DROP TABLE public.bench_users")
        c.close()
        b.details["mt_write"] = res


    # ── HTTP: the gateway vs its stack's floor ──────────────────────────
    def bench_http(self) -> None:
        import subprocess
        from pathlib import Path
        b = self.b
        tid = tenant_uuid(1)
        n = self.sizes[0]
        run = Path(b.run_dir)
        c = self.connect()
        c.execute("SELECT set_config('scim.tenant', %s, false)", (str(tid),))
        tok = c.execute("SELECT scim.scim_token_issue('bench-http')").fetchone()[0]
        gen = c.execute("SELECT scim.scim_filter_sql('userName eq \"x\"')").fetchone()[0]
        user_json = re.match(r"SELECT (.*) FROM scim\.users r WHERE", gen, re.S).group(1)
        # the floor writes into copies with the same indexes (no triggers,
        # no foreign keys: what a hand-written service would have)
        c.execute("DROP SCHEMA IF EXISTS floor CASCADE")
        c.execute("CREATE SCHEMA floor")
        for t in ("users", "groups", "members"):
            c.execute(f"CREATE TABLE floor.{t} (LIKE scim.{t} INCLUDING ALL)")
        # the last HTTP_IDS users: the ones PUT and PATCH rewrite (mt_filter
        # looks users up below them)
        ids = [str(uuid.UUID(hashlib.md5(f"1-u-{i}".encode()).hexdigest())) for i in range(max(1, n - HTTP_IDS + 1), n + 1)]
        c.execute("INSERT INTO floor.users SELECT * FROM scim.users WHERE tenant_id = %s AND id = ANY(%s::uuid[])",
                  (tid, ids))
        gid = str(uuid.UUID(hashlib.md5(b"1-g-1").hexdigest()))
        # ours patches an empty group of its own; the floor its copy
        c.execute("INSERT INTO scim.groups (tenant_id, id, display_name, resource) VALUES (%s, %s, 'bench-http', "
                  "'{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\"], \"displayName\": \"bench-http\"}') "
                  "ON CONFLICT DO NOTHING", (tid, uuid.UUID(hashlib.md5(b"bench-http").hexdigest())))
        c.execute("INSERT INTO floor.groups SELECT * FROM scim.groups WHERE tenant_id = %s AND id = %s", (tid, gid))
        c.execute("ANALYZE floor.users, floor.groups")
        ids_file = run / "mt-http-ids.txt"
        ids_file.write_text("\n".join(ids) + "\n")
        _, gport = b.start_gateway(MT_DB)
        fport = b.a.http_port + 1
        logf = open(run / "floor.log", "ab")
        env = dict(__import__("os").environ, FLOOR_LISTEN=f"127.0.0.1:{fport}",
                   FLOOR_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{b.port}/{MT_DB}",
                   FLOOR_TENANT=str(tid), FLOOR_TOKEN=tok, FLOOR_USER_JSON=user_json, FLOOR_POOL="8")
        fp = b.track(subprocess.Popen([str(ROOT / "target" / "release" /
                                           "scim-bench-floor")], env=env, stdout=logf, stderr=logf))
        b.wait_http(fport, "/healthz", fp)
        common = {"BENCH_TOKEN": tok, "BENCH_USERS": str(n), "BENCH_DOMAIN": "t1.example.com",
                  "BENCH_IDS": str(ids_file)}
        targets = {
            "ours": (gport, dict(common, BENCH_BASE="/scim/v2",
                                 BENCH_GROUP=str(uuid.UUID(hashlib.md5(b"bench-http").hexdigest())))),
            "floor": (fport, dict(common, BENCH_BASE="/v2", BENCH_GROUP=gid)),
        }
        endpoints = [("GET /Users?filter=userName eq", "get_filter.lua"), ("GET /Users/{id}", "get_user_paced.lua"),
                     ("POST /Users", "post_users.lua"), ("PUT /Users/{id}", "put_user.lua"),
                     ("PATCH /Users/{id} (replace displayName)", "patch_user.lua"),
                     ("PATCH /Groups/{id} (add one member)", "patch_group.lua")]
        # the same answer from both, once, before measuring
        import http.client
        for who, (port, e) in targets.items():
            h = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            h.request("GET", e["BENCH_BASE"] + "/Users/" + ids[0], headers={"Authorization": f"Bearer {tok}"})
            r = h.getresponse()
            body = json.loads(r.read())
            if r.status != 200 or body.get("id") != ids[0]:
                raise BenchError(f"{who}: GET /Users/{{id}} answered {r.status}: {str(body)[:300]}")
            targets[who] = (port, e, body)
        if {k: v for k, v in targets["ours"][2].items()} != targets["floor"][2]:
            raise BenchError("the floor server's user representation differs from the gateway's")
        res = {}
        for rnd in range(self.s["http_rounds"]):
            for ep, script in endpoints:
                for who in (("ours", "floor") if rnd % 2 == 0 else ("floor", "ours")):
                    port, e, _ = targets[who]
                    r = b.wrk(script, port, dict(e, BENCH_PREFIX=f"mt{b.run_id}-{who}-{rnd}"), self.s["http_s"])
                    if r["non2xx"]:
                        raise BenchError(f"{who} answered {r['non2xx']} non-2xx to {ep}")
                    res.setdefault(ep, {}).setdefault(who, []).append(r)
                    log(f"  {ep} {who}: {r['rps']:.0f} req/s")
        for ep, _ in endpoints:
            o = statistics.median(x["rps"] for x in res[ep]["ours"])
            f = statistics.median(x["rps"] for x in res[ep]["floor"])
            b.row("mt_http", f"{ep}: gateway vs its stack's floor (wrk 2 threads, 16 conns, {self.s['http_s']} s)",
                  round(o), round(f), "req/s", "higher", 0.5,
                  note=f"p50 {res[ep]['ours'][0]['latency'].get('50')} vs {res[ep]['floor'][0]['latency'].get('50')}; "
                       f"largest tenant ({n:,} users); floor: bench/floor, pool 8, hand-written SQL, same representation")
        b.details["mt_http"] = {ep: {who: [{k: v for k, v in r.items() if k != "raw"} for r in rs]
                                     for who, rs in d.items()} for ep, d in res.items()}
        b.stop_procs()
        c.execute("DROP SCHEMA floor CASCADE")
        c.close()


def run_section(b, name: str) -> None:
    mt = b.__dict__.setdefault("_mt", None) or MultiTenant(b)
    b._mt = mt
    if not getattr(b, "_mt_loaded", False):
        mt.setup()
        b._mt_loaded = True
    {"mt_filter": mt.bench_filter, "mt_walk": mt.bench_walk, "mt_layers": mt.bench_layers,
     "mt_write": mt.bench_write, "mt_http": mt.bench_http}[name]()
