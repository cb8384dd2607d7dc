"""Adversarial requests at the size limits finish or are cancelled within
statement_timeout + 0.5 s, and a cancelled request leaves nothing behind.

Each request goes through scim.scim_http (what the gateway and PostgREST
call) on a connection with a short statement_timeout. The requests are the
largest the default limits allow (scim.max_patch_operations = 1,000,
scim.max_operation_values = 10,000, scim.max_password_hashes = 100, one
1 MB body): long loops must check for interrupts, or the statement outlives
its timeout. How cost grows with operations × members is a benchmark
(scripts/bench), not asserted here.
"""

from __future__ import annotations

import json
import time
import uuid

import psycopg
import pytest

TIMEOUT_MS = 1500
SLACK_S = 0.5
GROUP_SIZE = 10_000  # scim.max_operation_values: the largest member list one request can set
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


@pytest.fixture(scope="module")
def big(sql, new_tenant):
    """A tenant with GROUP_SIZE users, one group holding all of them and
    one empty group (set up with plain SQL: fast, and not under test)."""
    t = new_tenant("pytest-limits")
    tid = sql("SELECT id FROM scim.tenants WHERE name = %s", (t.name,))[0][0]
    sql(
        """INSERT INTO scim.users (tenant_id, user_name, display_name, resource)
           SELECT %s, 'lim-' || i, 'Limit User ' || i,
                  jsonb_build_object('userName', 'lim-' || i, 'displayName', 'Limit User ' || i)
             FROM generate_series(1, %s) i""",
        (tid, GROUP_SIZE),
    )
    full = t.client.post("/Groups", {"displayName": "lim-full"})
    empty = t.client.post("/Groups", {"displayName": "lim-empty"})
    assert full.status_code == 201 and empty.status_code == 201
    sql(
        """INSERT INTO scim.members (tenant_id, group_id, member_id, member_type)
           SELECT tenant_id, %s, id, 'User' FROM scim.users WHERE tenant_id = %s""",
        (full.json()["id"], tid),
    )
    ids = [str(r[0]) for r in sql("SELECT id FROM scim.users WHERE tenant_id = %s ORDER BY id", (tid,))]
    return {"tenant": t, "tid": tid, "full": full.json()["id"], "empty": empty.json()["id"], "users": ids}


def timed_request(database_url, token, method, path, body):
    """(status or 'cancelled', seconds) for one scim_http call under the timeout."""
    headers = json.dumps({"authorization": f"Bearer {token}"})
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"SET statement_timeout = {TIMEOUT_MS}")
        start = time.monotonic()
        try:
            row = conn.execute(
                "SELECT status FROM scim.scim_http(%s, %s, '', %s::jsonb, %s)",
                (method, path, headers, json.dumps(body)),
            ).fetchone()
            outcome = row[0]
        except psycopg.errors.QueryCanceled:
            outcome = "cancelled"
        return outcome, time.monotonic() - start


def members_of(sql, tid, gid) -> int:
    return sql("SELECT count(*) FROM scim.members WHERE tenant_id = %s AND group_id = %s", (tid, gid))[0][0]


def assert_bounded(outcome, took, what):
    limit = TIMEOUT_MS / 1000 + SLACK_S
    print(f"{what}: {outcome} after {took:.3f}s (limit {limit:.1f}s)")
    assert took <= limit, f"{what}: {outcome} after {took:.2f}s, over statement_timeout + {SLACK_S}s"
    assert outcome == "cancelled" or outcome < 500, (what, outcome)


def test_remove_by_filter_operations_on_the_biggest_group(big, sql, database_url):
    ops = [{"op": "remove", "path": f'members[display co "no-such-{i}"]'} for i in range(1000)]
    outcome, took = timed_request(
        database_url, big["tenant"].token, "PATCH", f"/Groups/{big['full']}",
        {"schemas": [PATCH_SCHEMA], "Operations": ops},
    )
    assert_bounded(outcome, took, "1,000 member-filter removes on a 10,000-member group")
    assert members_of(sql, big["tid"], big["full"]) == GROUP_SIZE


def test_one_operation_with_the_most_members(big, sql, database_url):
    value = [{"value": u} for u in big["users"]]
    outcome, took = timed_request(
        database_url, big["tenant"].token, "PATCH", f"/Groups/{big['empty']}",
        {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "members", "value": value}]},
    )
    assert_bounded(outcome, took, "one add of 10,000 members")
    n = members_of(sql, big["tid"], big["empty"])
    assert n == (GROUP_SIZE if outcome in (200, 204) else 0), (outcome, n)


def test_most_operations_each_with_values(big, sql, database_url):
    # 1,000 operations of 10 removes each: about the largest body allowed.
    users = big["users"]
    ops = [
        {"op": "remove", "path": "members", "value": [{"value": users[(i * 10 + k) % len(users)]} for k in range(10)]}
        for i in range(999)
    ]
    # The last one names an unknown member: the whole request must fail.
    ops.append({"op": "add", "path": "members", "value": [{"value": str(uuid.uuid4())}]})
    body = {"schemas": [PATCH_SCHEMA], "Operations": ops}
    assert len(json.dumps(body)) < 1_048_576
    outcome, took = timed_request(database_url, big["tenant"].token, "PATCH", f"/Groups/{big['full']}", body)
    assert_bounded(outcome, took, "1,000 operations × 10 values")
    assert outcome in ("cancelled", 400), outcome
    assert members_of(sql, big["tid"], big["full"]) == GROUP_SIZE


def test_password_heavy_bulk(big, sql, database_url):
    ops = [
        {"method": "POST", "path": "/Users", "bulkId": f"p{i}",
         "data": {"userName": f"lim-pw-{i}-{uuid.uuid4().hex[:6]}", "password": f"Pw-{i}-{uuid.uuid4()}"}}
        for i in range(100)
    ]
    outcome, took = timed_request(
        database_url, big["tenant"].token, "POST", "/Bulk", {"schemas": [BULK_SCHEMA], "Operations": ops}
    )
    assert_bounded(outcome, took, "Bulk of 100 POSTs with passwords")
    stored = sql("SELECT count(*) FROM scim.users WHERE tenant_id = %s AND user_name LIKE 'lim-pw-%%'", (big["tid"],))[0][0]
    assert stored == (100 if outcome == 200 else 0), (outcome, stored)
    # One more password than allowed: refused before any hashing.
    ops.append({"method": "POST", "path": "/Users", "bulkId": "p100", "data": {"userName": "x", "password": "y"}})
    outcome, took = timed_request(
        database_url, big["tenant"].token, "POST", "/Bulk", {"schemas": [BULK_SCHEMA], "Operations": ops}
    )
    assert outcome == 413 and took < 1.0, (outcome, took)


def test_bulk_of_the_most_operations_with_member_filters(big, sql, database_url):
    patch = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "remove", "path": 'members[display sw "zzz"]'}]}
    ops = [{"method": "PATCH", "path": f"/Groups/{big['full']}", "data": patch} for _ in range(1000)]
    outcome, took = timed_request(
        database_url, big["tenant"].token, "POST", "/Bulk", {"schemas": [BULK_SCHEMA], "Operations": ops}
    )
    assert_bounded(outcome, took, "Bulk of 1,000 member-filter PATCHes")
    assert members_of(sql, big["tid"], big["full"]) == GROUP_SIZE


def test_over_the_limits_is_413_naming_the_limit(big):
    c = big["tenant"].client
    ops = [{"op": "replace", "path": "displayName", "value": f"n{i}"} for i in range(1001)]
    r = c.patch(f"/Groups/{big['empty']}", {"schemas": [PATCH_SCHEMA], "Operations": ops})
    assert r.status_code == 413, r.text
    assert "scim.max_patch_operations" in r.json()["detail"]
    value = [{"value": str(uuid.uuid4())} for _ in range(10_001)]
    r = c.patch(f"/Groups/{big['empty']}",
                {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "add", "path": "members", "value": value}]})
    assert r.status_code == 413, r.text
    assert "scim.max_operation_values" in r.json()["detail"]
    r = c.post("/Groups", {"displayName": "lim-too-many", "members": value})
    assert r.status_code == 413, r.text
    spc = c.get("/ServiceProviderConfig").json()
    assert spc["bulk"]["maxOperations"] == 1000 and spc["bulk"]["maxPayloadSize"] == 1_048_576
    assert spc["filter"]["maxResults"] == 1000


def test_bad_input_over_http_is_a_scim_400(big):
    c = big["tenant"].client
    deep = "[" * 200 + "]" * 200
    for body in (
        '{"userName": "nul\\u0000"}',
        '{"userName": "ok", "x\\u0000y": 1}',
        '{"userName": "deep", "title": %s}' % deep,
        '{"userName": "huge", "x": 1e400}',
    ):
        r = c.request("POST", "/Users", raw=body.encode())
        assert r.status_code == 400, (body[:40], r.status_code, r.text)
        assert r.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    r = c.post("/Bulk", {"schemas": [BULK_SCHEMA], "Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "\u0000", "data": {"userName": "b"}}]})
    assert r.status_code == 400, r.text
    r = c.get("/Users", params={"filter": 'userName eq "\u0000"'})
    assert r.status_code == 400, r.text
    big_int = 2**63 - 1
    r = c.get("/Users", params={"startIndex": big_int, "count": big_int})
    assert r.status_code == 200 and r.json()["Resources"] == [], r.text
    r = c.post("/.search", {"startIndex": big_int, "count": big_int})
    assert r.status_code == 200 and r.json()["Resources"] == [], r.text
    r = c.get("/Users", params={"startIndex": 2**63})
    assert r.status_code == 400 and r.json()["scimType"] == "invalidValue", r.text
