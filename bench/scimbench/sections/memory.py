"""Section memory: backend memory over large PATCHes and cursor walks."""

from __future__ import annotations

import hashlib
import json
import time
import uuid

from ..common import BenchError, DEFAULT_TENANT, PATCH_SCHEMA, SEED, det_uuid, pct


class MemorySection:
    def bench_memory(self) -> None:
        s = self.s
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
