"""The PostgREST exposure (DESIGN.md "HTTP contract", examples/postgrest):
`scim.scim_postgrest(jsonb)` called as PostgREST would call it, and the
documented role setup (examples/postgrest/roles.sql + README "Roles and
grants"). Everything runs in a transaction that is rolled back, the roles
included."""

import json
import uuid

import psycopg
import pytest

from scimhttp import uniq


@pytest.fixture
def tx(database_url):
    """A connection in an open transaction, rolled back afterwards."""
    conn = psycopg.connect(database_url)
    try:
        yield conn
    finally:
        conn.rollback()
        conn.close()


def postgrest_call(conn, method, path, query="", token=None, body=None, extra_headers=None):
    headers = {"x-scim-method": method, "x-scim-path": path, "x-scim-query": query}
    if token:
        headers["x-scim-authorization"] = f"Bearer {token}"
    headers.update(extra_headers or {})
    conn.execute("SELECT set_config('request.headers', %s, true)", (json.dumps(headers),))
    out = conn.execute("SELECT scim.scim_postgrest(%s::jsonb)", (json.dumps(body) if body is not None else None,)).fetchone()[0]
    status = int(conn.execute("SELECT current_setting('response.status', true)").fetchone()[0])
    hdrs = json.loads(conn.execute("SELECT current_setting('response.headers', true)").fetchone()[0])
    flat = {k: v for h in hdrs for k, v in h.items()}
    return status, flat, out


def make_web_role(conn):
    """What examples/postgrest/roles.sql sets up for db-anon-role."""
    role = "pytest_web_" + uuid.uuid4().hex[:10]
    conn.execute(f"CREATE ROLE {role} NOLOGIN")
    conn.execute(f"GRANT USAGE ON SCHEMA scim TO {role}")
    conn.execute(f"GRANT EXECUTE ON FUNCTION scim.scim_postgrest(jsonb) TO {role}")
    return role


def test_wrapper_create_read_and_errors(tx, issue_token):
    token = issue_token()
    name = uniq("pgrst")
    status, hdrs, body = postgrest_call(
        tx, "POST", "/Users", token=token, body={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name}
    )
    assert status == 201, body
    assert hdrs["Content-Type"] == "application/scim+json"
    assert hdrs["Location"].endswith("/Users/" + body["id"])
    assert hdrs["ETag"] == body["meta"]["version"]
    status, hdrs, got = postgrest_call(tx, "GET", f"/Users/{body['id']}", token=token)
    assert (status, got["userName"]) == (200, name)
    status, hdrs, got = postgrest_call(tx, "GET", "/Users", query=f"filter=userName%20eq%20%22{name}%22", token=token)
    assert status == 200 and got["totalResults"] == 1
    status, hdrs, got = postgrest_call(tx, "GET", "/Users", token=None)
    assert status == 401 and "WWW-Authenticate" in hdrs
    assert got["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    status, _, got = postgrest_call(tx, "DELETE", f"/Users/{body['id']}", token=token)
    assert status == 204 and got is None


def test_wrapper_failed_write_is_rolled_back(tx, issue_token):
    token = issue_token()
    name = uniq("pgrst-dup")
    postgrest_call(tx, "POST", "/Users", token=token, body={"userName": name})
    status, _, got = postgrest_call(tx, "POST", "/Users", token=token, body={"userName": name.upper()})
    assert status == 409 and got["scimType"] == "uniqueness"
    # the transaction is still usable (PostgREST commits it) and holds one user
    n = tx.execute("SELECT count(*) FROM scim.users WHERE lower(user_name) = lower(%s)", (name,)).fetchone()[0]
    assert n == 1


def test_wrapper_ignores_postgrest_authorization_header(tx, issue_token):
    """PostgREST's own Authorization (a JWT slot) must not authenticate SCIM."""
    token = issue_token()
    status, _, _ = postgrest_call(tx, "GET", "/Users", extra_headers={"authorization": f"Bearer {token}"})
    assert status == 401


def test_web_role_can_execute_only_the_wrapper(tx):
    role = make_web_role(tx)
    rows = tx.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p "
        "WHERE p.pronamespace = 'scim'::regnamespace AND has_function_privilege(%s, p.oid, 'EXECUTE')",
        (role,),
    ).fetchall()
    assert [r[0] for r in rows] == ["scim.scim_postgrest(jsonb)"]


def test_web_role_request_through_wrapper(tx, issue_token):
    token = issue_token()
    role = make_web_role(tx)
    tx.execute(f"SET LOCAL ROLE {role}")
    status, _, got = postgrest_call(tx, "GET", "/Users", query="count=1", token=token)
    assert status == 200, got
    status, _, got = postgrest_call(tx, "POST", "/Users", token=token, body={"userName": uniq("web")})
    assert status == 201, got
