"""Section sync: an IdP-like initial load, /Bulk against single requests."""

from __future__ import annotations

import concurrent.futures
import json
import os
import random
import threading
import time
import urllib.parse

from ..common import (
    BULK_SCHEMA,
    BenchError,
    Client,
    ENTERPRISE,
    GROUP_SCHEMA,
    PATCH_SCHEMA,
    SEED,
    USER_SCHEMA,
    display_name,
    log,
)


class SyncSection:
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
