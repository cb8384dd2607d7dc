"""The change feed, scim.scim_changes(after, limit): a consumer that keeps
the last change number never misses a committed change and never sees an
uncommitted one, even when writers commit out of order (README
"Provisioning log and change feed")."""

from __future__ import annotations

import json
import random
import threading
import time

import psycopg

from scimhttp import uniq


def connect(database_url: str, tenant: str, autocommit: bool = False) -> psycopg.Connection:
    conn = psycopg.connect(database_url, autocommit=autocommit)
    conn.execute("SELECT set_config('scim.tenant', %s, false)", (tenant,))
    if not autocommit:
        conn.commit()
    return conn


def create_user(conn, name: str, active: bool = True) -> str:
    body = json.dumps({"userName": name, "active": active})
    return conn.execute("SELECT scim.scim_create_user(%s::jsonb)->>'id'", (body,)).fetchone()[0]


class Consumer:
    """Polls like an application would: stores the last change number."""

    def __init__(self, database_url: str, tenant: str):
        self.conn = connect(database_url, tenant, autocommit=True)
        self.after = 0
        self.seen: list[tuple] = []

    def poll(self, limit: int = 50) -> list[tuple]:
        got = []
        while True:
            rows = self.conn.execute(
                "SELECT change_no, resource_type, resource_id::text, operation, version, member_id::text"
                "  FROM scim.scim_changes(%s, %s)",
                (self.after, limit),
            ).fetchall()
            for r in rows:
                assert r[0] > self.after, (r, self.after)
                self.after = r[0]
            got.extend(rows)
            if len(rows) < limit:
                break
        self.seen.extend(got)
        return got

    def close(self):
        self.conn.close()


def test_out_of_order_commit_is_not_missed_and_rollback_never_seen(sql, database_url):
    tenant = uniq("feed")
    sql("SELECT scim.scim_tenant_create(%s)", (tenant,))
    consumer = Consumer(database_url, tenant)
    early = connect(database_url, tenant)
    late = connect(database_url, tenant)
    doomed = connect(database_url, tenant)
    try:
        early_id = create_user(early, uniq("early"))   # writes first, commits last
        doomed_id = create_user(doomed, uniq("doomed"))
        late_id = create_user(late, uniq("late"))
        late.commit()
        # While the earlier writer is open, nothing after it is handed out:
        # a number given to `late` now would be skipped when `early` commits.
        assert consumer.poll() == []
        doomed.rollback()
        early.commit()
        got = consumer.poll()
        ids = [r[2] for r in got]
        assert set(ids) == {early_id, late_id}, got
        assert all(r[3] == "create" and r[4] == 1 for r in got), got
        assert doomed_id not in ids
        assert consumer.poll() == []
    finally:
        for c in (early, late, doomed):
            c.close()
        consumer.close()


def test_deactivation_and_membership_are_in_the_feed(sql, database_url):
    tenant = uniq("feed")
    sql("SELECT scim.scim_tenant_create(%s)", (tenant,))
    consumer = Consumer(database_url, tenant)
    conn = connect(database_url, tenant, autocommit=True)
    try:
        uid = create_user(conn, uniq("u"))
        gid = conn.execute(
            "SELECT scim.scim_create_group(%s::jsonb)->>'id'",
            (json.dumps({"displayName": uniq("g"), "members": [{"value": uid}]}),),
        ).fetchone()[0]
        conn.execute(
            "SELECT scim.scim_patch('User', %s, %s::jsonb)",
            (uid, json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                              "Operations": [{"op": "replace", "path": "active", "value": False}]})),
        )
        conn.execute(
            "SELECT scim.scim_patch('Group', %s, %s::jsonb)",
            (gid, json.dumps({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                              "Operations": [{"op": "remove", "path": f'members[value eq "{uid}"]'}]})),
        )
        conn.execute("SELECT scim.scim_delete('Group', %s)", (gid,))
        ops = [(r[1], r[2], r[3]) for r in consumer.poll()]
        assert ("User", uid, "create") in ops
        assert ("Group", gid, "member_add") in ops
        assert ("User", uid, "deactivate") in ops
        assert ("Group", gid, "member_remove") in ops
        assert ops[-1] == ("Group", gid, "delete"), ops
        # Bad input is a clear error, nothing half-done.
        try:
            conn.execute("SELECT * FROM scim.scim_changes(0, 0)")
            raise AssertionError("max_rows 0 accepted")
        except psycopg.errors.InvalidParameterValue:
            pass
    finally:
        conn.close()
        consumer.close()


def test_parallel_writers_and_a_polling_consumer_agree_with_the_final_state(sql, database_url):
    tenant = uniq("feed")
    sql("SELECT scim.scim_tenant_create(%s)", (tenant,))
    consumer = Consumer(database_url, tenant)
    committed: set[str] = set()
    rolled_back: set[str] = set()
    lock = threading.Lock()
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(seed: int):
        rnd = random.Random(seed)
        try:
            with connect(database_url, tenant) as conn:
                for _ in range(25):
                    uid = create_user(conn, uniq(f"w{seed}"))
                    if rnd.random() < 0.5:
                        conn.execute(
                            "SELECT scim.scim_replace('User', %s, %s::jsonb)",
                            (uid, json.dumps({"userName": uniq("renamed"), "active": rnd.random() < 0.5})),
                        )
                    time.sleep(rnd.random() * 0.02)   # commit order ≠ write order
                    if rnd.random() < 0.2:
                        conn.rollback()
                        with lock:
                            rolled_back.add(uid)
                    else:
                        conn.commit()
                        with lock:
                            committed.add(uid)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    def poller():
        while not stop.is_set():
            consumer.poll(limit=7)
            time.sleep(0.005)

    writers = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    polling = threading.Thread(target=poller)
    polling.start()
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    stop.set()
    polling.join()
    assert not errors, errors
    consumer.poll()
    consumer.close()

    numbers = [r[0] for r in consumer.seen]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    created = {r[2] for r in consumer.seen if r[3] == "create"}
    assert created == committed, (len(created), len(committed))
    assert not ({r[2] for r in consumer.seen} & rolled_back)
    # The last version the feed reported for each user is its final version.
    last_version = {}
    for r in consumer.seen:
        last_version[r[2]] = r[4]
    final = dict(sql("SELECT id::text, version FROM scim.users WHERE tenant_id = "
                     "(SELECT id FROM scim.tenants WHERE name = %s)", (tenant,)))
    assert final.keys() == committed
    assert {u: last_version[u] for u in final} == final
