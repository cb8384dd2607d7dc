"""bench/results.md and bench/results.json from the recorded rows."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time

import psycopg
import psycopg.sql

from .common import ROOT, SEED, log


class Report:
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
