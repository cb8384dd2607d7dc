"""A hot standby (PostgreSQL streaming replication) behind the gateway.

scripts/test starts the standby with pg_basebackup from the test cluster
and a gateway with --replica-url and --served-by-header, then runs this
file with SCIM_BASE_URL (that gateway), SCIM_DATABASE_URL (primary) and
SCIM_STANDBY_URL (standby).

Checked: the read API answers on the standby (lists, gets, discovery,
effective_policy, policy_allows) and refuses writes cleanly; the gateway
sends reads to the standby and writes to the primary, and a credential
reads its own writes even while the standby lags; a policy change on the
primary reaches the standby's answers (in a long-lived standby session,
whose policy cache must notice) after replay.
"""

from __future__ import annotations

import json
import os
import time
import uuid

import psycopg
import pytest
import requests

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture(scope="module")
def urls():
    need = ("SCIM_BASE_URL", "SCIM_DATABASE_URL", "SCIM_STANDBY_URL")
    if not all(os.environ.get(k) for k in need):
        pytest.exit(f"set {', '.join(need)} (run through scripts/test)", returncode=4)
    return {k: os.environ[k].rstrip("/") for k in need}


@pytest.fixture(scope="module")
def primary(urls):
    with psycopg.connect(urls["SCIM_DATABASE_URL"], autocommit=True) as c:
        yield c


@pytest.fixture(scope="module")
def standby(urls):
    with psycopg.connect(urls["SCIM_STANDBY_URL"], autocommit=True) as c:
        assert c.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        yield c


def wait_replayed(primary, standby, timeout=10.0):
    """Until the standby has replayed everything the primary has written."""
    target = primary.execute("SELECT pg_current_wal_insert_lsn()").fetchone()[0]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if standby.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0]:
            return
        time.sleep(0.02)
    raise AssertionError(f"standby did not replay up to {target} within {timeout}s")


@pytest.fixture(scope="module")
def tenant(primary, standby):
    """A fresh tenant with two tokens (two credentials of one IdP)."""
    name = f"replica-{uuid.uuid4().hex[:8]}"
    primary.execute("SELECT scim.scim_tenant_create(%s)", (name,))
    primary.execute("SELECT set_config('scim.tenant', %s, false)", (name,))
    tokens = [primary.execute("SELECT scim.scim_token_issue(%s)", (f"t{i}",)).fetchone()[0] for i in range(2)]
    primary.execute("RESET scim.tenant")
    wait_replayed(primary, standby)
    return {"name": name, "tokens": tokens}


def http(urls, token, method, path, body=None, params=None):
    h = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    return requests.request(method, urls["SCIM_BASE_URL"] + path, headers=h, params=params,
                            data=None if body is None else json.dumps(body), timeout=30)


def as_tenant(conn, name):
    conn.execute("SELECT set_config('scim.tenant', %s, false)", (name,))


def test_the_read_api_answers_on_the_standby(primary, standby, tenant):
    as_tenant(primary, tenant["name"])
    u = primary.execute("SELECT scim.scim_create_user(%s)", (json.dumps({"userName": "reader@x.example"}),)).fetchone()[0]
    primary.execute("SELECT scim.scim_create_group(%s)", (json.dumps({"displayName": "readers", "members": [{"value": u["id"]}]}),))
    wait_replayed(primary, standby)
    as_tenant(standby, tenant["name"])
    listed = standby.execute("SELECT scim.scim_list('User', 'userName eq \"READER@x.example\"')").fetchone()[0]
    assert listed["totalResults"] == 1
    got = standby.execute("SELECT scim.scim_get('User', %s)", (u["id"],)).fetchone()[0]
    assert got["userName"] == "reader@x.example" and got["groups"][0]["display"] == "readers"
    assert standby.execute("SELECT count(*) FROM scim.scim_filter('userName sw \"reader\"')").fetchone()[0] == 1
    assert standby.execute("SELECT scim.effective_policy(%s)->>'user'", (u["id"],)).fetchone()[0] == u["id"]
    for path in ("/ServiceProviderConfig", "/Schemas", "/ResourceTypes"):
        status = standby.execute("SELECT status FROM scim.scim_http('GET', %s)", (path,)).fetchone()[0]
        assert status == 200, path
    # Writes are refused cleanly: a SCIM 503 over scim_http, an error in SQL.
    r = standby.execute(
        "SELECT status, body->>'detail' FROM scim.scim_http('POST', '/Users', '', %s::jsonb, %s)",
        (json.dumps({"authorization": f"Bearer {tenant['tokens'][0]}"}), json.dumps({"userName": "nope"})),
    ).fetchone()
    assert r[0] == 503 and "read-only replica" in r[1], r
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        standby.execute("SELECT scim.scim_create_user('{\"userName\": \"nope\"}')")
    standby.execute("RESET scim.tenant")
    primary.execute("RESET scim.tenant")


def test_reads_go_to_the_standby_writes_to_the_primary(urls, primary, standby, tenant):
    t = tenant["tokens"][0]
    r = http(urls, t, "GET", "/Users", params={"count": 0})
    assert r.status_code == 200 and r.headers["x-scim-served-by"] == "replica"
    r = http(urls, t, "POST", "/Users/.search", {"filter": 'userName sw "x"'})
    assert r.status_code == 200 and r.headers["x-scim-served-by"] == "replica"
    r = http(urls, t, "POST", "/Users", {"userName": f"w-{uuid.uuid4().hex[:6]}"})
    assert r.status_code == 201 and r.headers["x-scim-served-by"] == "primary"


def test_a_credential_reads_its_own_writes_while_the_standby_lags(urls, primary, standby, tenant):
    writer, other = tenant["tokens"]
    wait_replayed(primary, standby)
    standby.execute("SELECT pg_wal_replay_pause()")
    try:
        name = f"lag-{uuid.uuid4().hex[:6]}@x.example"
        created = http(urls, writer, "POST", "/Users", {"userName": name})
        assert created.status_code == 201
        # The writer sees its user at once (its reads go to the primary) ...
        for _ in range(3):
            r = http(urls, writer, "GET", "/Users", params={"filter": f'userName eq "{name}"'})
            assert r.json()["totalResults"] == 1 and r.headers["x-scim-served-by"] == "primary"
        # ... another credential reads the lagging standby.
        r = http(urls, other, "GET", "/Users", params={"filter": f'userName eq "{name}"'})
        assert r.headers["x-scim-served-by"] == "replica" and r.json()["totalResults"] == 0
        # A 404 from the standby is asked again of the primary.
        r = http(urls, other, "GET", f"/Users/{created.json()['id']}")
        assert r.status_code == 200 and r.headers["x-scim-served-by"] == "primary"
    finally:
        standby.execute("SELECT pg_wal_replay_resume()")
    wait_replayed(primary, standby)
    deadline = time.monotonic() + 5
    while True:  # the gateway notices the replay within its poll interval
        r = http(urls, writer, "GET", "/Users", params={"filter": f'userName eq "{name}"'})
        if r.headers["x-scim-served-by"] == "replica" or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert r.headers["x-scim-served-by"] == "replica" and r.json()["totalResults"] == 1


def test_policy_changes_reach_the_standby_after_replay(primary, standby, tenant):
    as_tenant(primary, tenant["name"])
    as_tenant(standby, tenant["name"])
    u = primary.execute("SELECT scim.scim_create_user('{\"userName\": \"policy-reader\"}')").fetchone()[0]["id"]
    g = primary.execute("SELECT scim.scim_create_group(%s)",
                        (json.dumps({"displayName": "model-users", "members": [{"value": u}]}),)).fetchone()[0]["id"]
    primary.execute("SELECT scim.scim_policy_put('models', %s)", (json.dumps({"allow": {"models": ["gpt-4o"]}}),))
    allows = "SELECT scim.policy_allows(%s, 'models', 'gpt-4o')"
    wait_replayed(primary, standby)
    assert standby.execute(allows, (u,)).fetchone()[0] is False  # not bound: the default allows nothing
    primary.execute("SELECT scim.scim_policy_bind(%s, 'models')", (g,))
    wait_replayed(primary, standby)
    assert standby.execute(allows, (u,)).fetchone()[0] is True  # same standby session: its cache follows
    primary.execute("SELECT scim.scim_policy_unbind(%s, 'models')", (g,))
    wait_replayed(primary, standby)
    assert standby.execute(allows, (u,)).fetchone()[0] is False
    primary.execute("RESET scim.tenant")
    standby.execute("RESET scim.tenant")
