"""Security boundary (issue 12), black-box: the public base URL is
configuration, change notifications carry nothing about any tenant, and
passwords in failed requests never reach the server log."""

from __future__ import annotations

import json
import os
import re
import select
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from scimhttp import uniq

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def test_location_never_from_client_headers(scim, base_url):
    spoof = {
        "Host": "evil.example",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
        "X-Forwarded-Prefix": "/x",
        "X-Scim-Base-Url": "https://evil.example/x",
        "X-Scim-Base-Path": "/x",
    }
    r = scim.post("/Users", {"userName": uniq("sec-url")}, headers=spoof)
    assert r.status_code == 201, r.text
    loc = r.headers["Location"]
    # The gateway's --public-url (scripts/test passes the URL it listens on).
    assert loc == f"{base_url}/Users/{r.json()['id']}"
    assert r.json()["meta"]["location"] == loc
    listed = scim.get("/Users", params={"filter": f'userName eq "{r.json()["userName"]}"'}, headers=spoof)
    assert "evil" not in listed.text


def _notifications(conn: psycopg.Connection, wait: float = 2.0) -> list[str]:
    """Payloads delivered to this LISTENing connection within `wait` s."""
    got: list[str] = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        select.select([conn.fileno()], [], [], 0.1)
        for n in conn.notifies(timeout=0):
            got.append(n.payload)
        if got:
            # Give the rest of the same commit a moment to arrive.
            deadline = min(deadline, time.monotonic() + 0.3)
    return got


def test_policy_notification_is_an_opaque_number(database_url, sql, new_tenant):
    t = new_tenant("sec-notify")
    sql("SELECT scim.scim_policy_put('sec', '{\"allow\": {\"skills\": [\"git\"]}}')", tenant=t.name)
    sql("SELECT scim.scim_policy_set_default('sec')", tenant=t.name)
    # A listener with no rights at all on schema scim.
    nobody = uniq("sec_listener").replace("-", "_")
    sql(f"CREATE ROLE {nobody} NOLOGIN")
    try:
        with psycopg.connect(database_url, autocommit=True) as listener:
            listener.execute(f"SET ROLE {nobody}")
            listener.execute("LISTEN scim_policy_changed")
            # A new user gets the default policy: a change for that user.
            r = t.client.post("/Users", {"userName": uniq("sec-notified")})
            assert r.status_code == 201, r.text
            user_id = r.json()["id"]
            payloads = _notifications(listener)
        assert payloads, "no notification"
        for p in payloads:
            assert re.fullmatch(r"[0-9]+", p), p
            assert not UUID_RE.search(p)
        # The details come from the tenant-scoped reader, under that tenant.
        seq = int(payloads[-1])
        rows = sql("SELECT all_users, users::text[] FROM scim.scim_policy_changes(%s)", (seq - 1,), tenant=t.name)
        assert rows[0] == (False, [user_id]), rows
        # Another tenant reads nothing of it.
        assert sql("SELECT count(*) FROM scim.scim_policy_changes(%s)", (seq - 1,))[0][0] == 0
    finally:
        sql(f"DROP ROLE {nobody}")


@pytest.fixture
def server_log() -> Path:
    path = os.environ.get("SCIM_SERVER_LOG")
    if not path:
        pytest.fail("SCIM_SERVER_LOG is not set (scripts/test sets it to the cluster's server log)")
    return Path(path)


def test_passwords_in_failed_requests_are_not_logged(scim, sql, database_url, server_log):
    secret = "sec-pw-" + uuid.uuid4().hex
    name = uniq("sec-pw")
    assert scim.post("/Users", {"userName": name}).status_code == 201
    # HTTP: a duplicate create, an invalid body, a failing Bulk, a bad PATCH.
    r = scim.post("/Users", {"userName": name, "password": secret})
    assert r.status_code == 409, r.text
    r = scim.post("/Users", {"userName": uniq("sec-pw"), "password": secret, "active": "maybe"})
    assert r.status_code == 400, r.text
    bulk = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [{"method": "POST", "path": "/Users", "bulkId": "x", "data": {"userName": name, "password": secret}}],
    }
    assert scim.post("/Bulk", bulk).status_code == 200
    rid = scim.get("/Users", params={"filter": f'userName eq "{name}"'}).json()["Resources"][0]["id"]
    r = scim.patch_resource("Users", rid, {"op": "replace", "path": "password", "value": secret},
                            {"op": "replace", "path": "nosuchattribute", "value": secret})
    assert r.status_code == 400, r.text
    # SQL API with the body as a bound parameter (psycopg binds server-side).
    with pytest.raises(psycopg.errors.UniqueViolation):
        sql("SELECT scim.scim_create_user(%s::jsonb)", (json.dumps({"userName": name, "password": secret}),))
    # Control: a literal in a failed statement IS logged by PostgreSQL (the
    # documented caveat), so the log is really being read.
    canary = "sec-canary-" + uuid.uuid4().hex
    with psycopg.connect(database_url, autocommit=True) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(f"SELECT scim.scim_create_user('{{\"userName\": \"{name}\", \"password\": \"{canary}\"}}')")
    text = ""
    for _ in range(20):  # the logger may lag a little
        text = server_log.read_text(errors="replace")
        if canary in text:
            break
        time.sleep(0.1)
    assert canary in text, "the control statement was not logged: is SCIM_SERVER_LOG the right file?"
    assert secret not in text
