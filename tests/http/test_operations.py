"""Operating it (issue 14): credential lifecycle (expiry, rotation with
overlap, last use), OAuth 2.0 client credentials, the provisioning log,
per-tenant rate limits and the gateway's /metrics."""

from __future__ import annotations

import base64
import re
import time

import psycopg
import requests

from scimhttp import Scim, uniq

PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def tenant_with_token(sql, base_url, **issue):
    name = uniq("ops")
    sql("SELECT scim.scim_tenant_create(%s)", (name,))
    args = ", ".join(f"{k} => %s" for k in issue)
    token = sql(f"SELECT scim.scim_token_issue(%s{', ' if args else ''}{args})",
                (uniq("tok"), *issue.values()), tenant=name)[0][0]
    return name, token, Scim(base_url, token)


def wait_until(deadline: float):
    time.sleep(max(0.0, deadline - time.time()))


# -- Credentials --------------------------------------------------------------

def test_expired_token_is_401_invalid_token(sql, base_url):
    _, _, client = tenant_with_token(sql, base_url, expires_in="2 seconds")
    start = time.time()
    assert client.get("/Users").status_code == 200
    wait_until(start + 2.5)
    r = client.get("/Users")
    assert r.status_code == 401
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    assert "expired" in r.json()["detail"]


def test_no_token_has_no_error_code(anon):
    r = anon.get("/Users")
    assert r.status_code == 401 and "error=" not in r.headers["WWW-Authenticate"]


def test_rotate_keeps_the_old_token_until_the_overlap_ends(sql, base_url):
    name, old, old_client = tenant_with_token(sql, base_url)
    assert old_client.get("/Users").status_code == 200
    (token_id, label), = sql("SELECT id, label FROM scim.scim_tokens()", tenant=name)
    start = time.time()
    new = sql("SELECT scim.scim_token_rotate(%s, interval '3 seconds')", (token_id,), tenant=name)[0][0]
    new_client = Scim(base_url, new)
    assert new != old
    assert new_client.get("/Users").status_code == 200
    assert old_client.get("/Users").status_code == 200      # inside the overlap
    rows = sql("SELECT label, expires IS NOT NULL, last_used IS NOT NULL, revoked FROM scim.scim_tokens() "
               "ORDER BY created", tenant=name)
    assert rows == [(label, True, True, None), (label, False, True, None)], rows
    wait_until(start + 3.5)
    r = old_client.get("/Users")
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    assert new_client.get("/Users").status_code == 200
    # Rotating an expired token, or a bad overlap, changes nothing.
    for args, sqlstate in (((token_id, "1 hour"), "P0002"), ((token_id, "-1 hour"), "22023")):
        try:
            sql("SELECT scim.scim_token_rotate(%s, %s::interval)", args, tenant=name)
            raise AssertionError("rotate accepted")
        except psycopg.Error as e:
            assert e.sqlstate == sqlstate, e
    assert len(sql("SELECT 1 FROM scim.scim_tokens()", tenant=name)) == 2


def test_last_used_is_recorded_at_most_about_once_a_minute(sql, base_url):
    name, _, client = tenant_with_token(sql, base_url)
    assert client.get("/Users").status_code == 200
    first = sql("SELECT last_used FROM scim.scim_tokens()", tenant=name)[0][0]
    assert first is not None
    assert client.get("/Users").status_code == 200
    assert sql("SELECT last_used FROM scim.scim_tokens()", tenant=name)[0][0] == first


# -- OAuth 2.0 client credentials --------------------------------------------

def token_url(base_url):
    return base_url + "/oauth/token"


def new_client(sql, tenant, lifetime="1 hour"):
    return sql("SELECT client_id::text, client_secret FROM scim.scim_oauth_client_create(%s, %s::interval)",
               (uniq("client"), lifetime), tenant=tenant)[0]


def test_oauth_client_credentials_flow(sql, base_url):
    name, _, _ = tenant_with_token(sql, base_url)
    cid, secret = new_client(sql, name)
    basic = base64.b64encode(f"{cid}:{secret}".encode()).decode()
    r = requests.post(token_url(base_url), data={"grant_type": "client_credentials"},
                      headers={"Authorization": f"Basic {basic}"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.headers["Cache-Control"] == "no-store"
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    client = Scim(base_url, body["access_token"])
    created = client.create_user(uniq("oauth-user"))
    # The token is the client's tenant's, nobody else's.
    assert sql("SELECT count(*) FROM scim.scim_filter(%s)", (f'id eq "{created["id"]}"',), tenant=name)[0][0] == 1
    # Form credentials work too.
    r = requests.post(token_url(base_url), data={"grant_type": "client_credentials",
                                                 "client_id": cid, "client_secret": secret})
    assert r.status_code == 200 and r.json()["access_token"] != body["access_token"]


def test_oauth_errors(sql, base_url):
    name, _, _ = tenant_with_token(sql, base_url)
    cid, secret = new_client(sql, name)
    url = token_url(base_url)
    cases = [
        ({"grant_type": "client_credentials", "client_id": cid, "client_secret": secret + "x"}, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_id": "not-a-uuid", "client_secret": secret}, 401, "invalid_client"),
        ({"grant_type": "password", "client_id": cid, "client_secret": secret}, 400, "unsupported_grant_type"),
        ({"client_id": cid, "client_secret": secret}, 400, "invalid_request"),
        ({"grant_type": "client_credentials"}, 400, "invalid_request"),
        ({"grant_type": "client_credentials", "client_id": cid}, 400, "invalid_request"),
    ]
    before = sql("SELECT count(*) FROM scim.tokens WHERE oauth_client = %s", (cid,))[0][0]
    for form, status, error in cases:
        r = requests.post(url, data=form)
        assert (r.status_code, r.json()["error"]) == (status, error), (form, r.text)
        if status == 401:
            assert r.headers["WWW-Authenticate"].startswith("Basic")
    basic = base64.b64encode(f"{cid}:{secret}".encode()).decode()
    r = requests.post(url, data={"grant_type": "client_credentials", "client_id": cid, "client_secret": secret},
                      headers={"Authorization": f"Basic {basic}"})
    assert (r.status_code, r.json()["error"]) == (400, "invalid_request")
    assert requests.get(url).status_code == 405
    assert sql("SELECT count(*) FROM scim.tokens WHERE oauth_client = %s", (cid,))[0][0] == before
    # A revoked client gets nothing, and its tokens stop working.
    r = requests.post(url, data={"grant_type": "client_credentials", "client_id": cid, "client_secret": secret})
    access = Scim(base_url, r.json()["access_token"])
    sql("SELECT scim.scim_oauth_client_revoke(%s)", (cid,), tenant=name)
    assert access.get("/Users").status_code == 401
    r = requests.post(url, data={"grant_type": "client_credentials", "client_id": cid, "client_secret": secret})
    assert r.status_code == 401


def test_oauth_token_expires(sql, base_url):
    name, _, _ = tenant_with_token(sql, base_url)
    cid, secret = new_client(sql, name, lifetime="1 second")
    r = requests.post(token_url(base_url), data={"grant_type": "client_credentials",
                                                 "client_id": cid, "client_secret": secret})
    start = time.time()
    assert r.json()["expires_in"] == 1
    client = Scim(base_url, r.json()["access_token"])
    wait_until(start + 1.5)
    r = client.get("/Users")
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["WWW-Authenticate"]


# -- Provisioning log ---------------------------------------------------------

def test_provisioning_log_of_an_entra_like_sync(sql, base_url):
    name, _, client = tenant_with_token(sql, base_url)
    rid = uniq("req")
    h = {"X-Request-Id": rid}
    r = client.post("/Users", {"userName": "ada@example.com", "active": True,
                               "name": {"givenName": "Ada"}}, headers=h)
    assert r.status_code == 201 and r.headers["X-Request-Id"] == rid
    uid = r.json()["id"]
    assert client.post("/Users", {"userName": "ADA@example.com"}).status_code == 409
    assert client.post("/Users", {"name": {"givenName": "no userName"}}).status_code == 400
    g = client.create_group(uniq("grp"))
    bad = client.patch(f"/Groups/{g['id']}", {"schemas": [PATCH_SCHEMA], "Operations": [
        {"op": "add", "path": "members", "value": [{"value": "00000000-0000-0000-0000-00000000dead"}]}]})
    assert bad.status_code == 400
    r = client.patch(f"/Users/{uid}", {"schemas": [PATCH_SCHEMA], "Operations": [
        {"op": "Replace", "path": "active", "value": "False"}]})
    assert r.status_code == 200
    assert client.get(f"/Users/{uid}").status_code == 200          # reads: not logged
    assert client.delete(f"/Users/{uid}").status_code == 204
    rows = sql("SELECT method, resource_type, status, scim_type, request_id, version_before, version_after, "
               "attributes, credential_label IS NOT NULL, duration_ms >= 0, request_body "
               "FROM scim.scim_provisioning_log() ORDER BY id", tenant=name)
    summary = [(m, rt, st, stype) for m, rt, st, stype, *_ in rows]
    assert summary == [
        ("POST", "User", 201, None),
        ("POST", "User", 409, "uniqueness"),
        ("POST", "User", 400, "invalidValue"),
        ("POST", "Group", 201, None),
        ("PATCH", "Group", 400, "invalidValue"),
        ("PATCH", "User", 200, None),
        ("DELETE", "User", 204, None),
    ], summary
    assert rows[0][4] == rid and all(r[4] for r in rows)            # generated when absent
    assert rows[0][7] == ["active", "name", "userName"]
    assert rows[5][5:8] == (1, 2, ["active"])                        # PATCH: version before/after
    assert rows[4][5] == rows[4][6] == 1                             # failed: nothing changed
    assert all(r[8] and r[9] for r in rows)
    assert all(r[10] is None for r in rows)                          # values: not without opt-in
    detail = sql("SELECT detail FROM scim.scim_provisioning_log(min_status => 400, max_status => 499) "
                 "WHERE method = 'PATCH'", tenant=name)[0][0]
    assert "dead" in detail


def test_provisioning_log_versions_of_user_writes(sql, base_url):
    """A user write reads its version before under its row lock; one that
    fails before it (a bad body) still logs the version it left alone."""
    name, _, client = tenant_with_token(sql, base_url)
    u = client.create_user(uniq("ver"))
    path = f"/Users/{u['id']}"
    ok = client.put(path, {"userName": u["userName"], "displayName": "Put"})
    assert ok.status_code == 200 and ok.headers["ETag"] == 'W/"2"' == ok.json()["meta"]["version"]
    assert client.put(path, {"displayName": "no userName"}).status_code == 400
    patch = {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "replace", "path": "title", "value": "T"}]}
    assert client.patch(path, patch, headers={"If-Match": 'W/"1"'}).status_code == 412
    assert client.patch(path, patch).status_code == 200
    assert client.patch(path, {"schemas": [PATCH_SCHEMA], "Operations": [{"op": "bogus"}]}).status_code == 400
    assert client.delete(path).status_code == 204
    missing = "/Users/00000000-0000-4000-8000-000000000000"
    assert client.put(missing, {"userName": "nobody"}).status_code == 404
    rows = sql("SELECT method, status, version_before, version_after, resource_id "
               "FROM scim.scim_provisioning_log() WHERE method <> 'POST' ORDER BY id", tenant=name)
    assert [r[:4] for r in rows] == [
        ("PUT", 200, 1, 2),
        ("PUT", 400, 2, 2),
        ("PATCH", 412, 2, 2),
        ("PATCH", 200, 2, 3),
        ("PATCH", 400, 3, 3),
        ("DELETE", 204, 3, None),
        ("PUT", 404, None, None),
    ], rows
    assert all(r[4] == u["id"] for r in rows[:-1])
    created = sql("SELECT resource_id FROM scim.scim_provisioning_log() WHERE method = 'POST'", tenant=name)
    assert created == [(u["id"],)]


def test_provisioning_log_values_only_when_opted_in_and_never_passwords(sql, base_url):
    name, _, client = tenant_with_token(sql, base_url)
    sql("SELECT scim.scim_provisioning_log_configure(true, true)", tenant=name)
    client.create_user(uniq("pii"), password="Sup3r-secret!")
    assert client.get("/Users").status_code == 200
    rows = sql("SELECT method, request_body FROM scim.scim_provisioning_log() ORDER BY id", tenant=name)
    assert [m for m, _ in rows] == ["POST", "GET"]
    assert rows[0][1]["password"] == "(redacted)"
    exported = sql("SELECT * FROM scim.scim_provisioning_log_export()", tenant=name)
    assert len(exported) == 2 and "Sup3r" not in "".join(e[0] for e in exported)


def test_provisioning_log_over_http_for_admins_only(sql, base_url):
    name, _, client = tenant_with_token(sql, base_url)
    admin = Scim(base_url, sql("SELECT scim.scim_token_issue('ops-admin', admin => true)", tenant=name)[0][0])
    client.create_user(uniq("logged"))
    assert client.post("/Users", {"userName": ""}).status_code == 400
    assert client.get("/ProvisioningLog").status_code == 403
    r = admin.get("/ProvisioningLog", params={"status": "4xx"})
    assert r.status_code == 200, r.text
    # Newest first; the refused read is a failure, so it is logged too.
    assert [x["status"] for x in r.json()["Resources"]] == [403, 400]
    r = admin.get("/ProvisioningLog", params={"resourceType": "Users", "count": "10"})
    assert {x["status"] for x in r.json()["Resources"]} == {201, 400}
    assert all("tenant_id" not in x for x in r.json()["Resources"])
    assert admin.get("/ProvisioningLog", params={"since": "yesterday-ish"}).status_code == 400
    assert admin.get("/ProvisioningLog", params={"status": "abc"}).status_code == 400
    # Another tenant's admin sees none of it.
    other_name, _, _ = tenant_with_token(sql, base_url)
    other = Scim(base_url, sql("SELECT scim.scim_token_issue('x', admin => true)", tenant=other_name)[0][0])
    assert other.get("/ProvisioningLog").json()["totalResults"] == 0


def test_unauthenticated_failures_are_logged_without_a_tenant(sql, anon):
    rid = uniq("anon")
    assert anon.get("/Users", headers={"X-Request-Id": rid}).status_code == 401
    rows = sql("SELECT tenant_id, status FROM scim.provisioning_log WHERE request_id = %s", (rid,))
    assert rows == [(None, 401)]


# -- Rate limits --------------------------------------------------------------

def test_rate_limit_429_with_headers_and_recovery(sql, base_url):
    name, _, client = tenant_with_token(sql, base_url)
    sql("SELECT scim.scim_rate_limit_set(2, 3)", tenant=name)
    assert client.get("/Users").status_code == 200        # the gateway learns the tenant's limit
    statuses = []
    last = None
    for _ in range(6):
        last = client.get("/Users")
        statuses.append(last.status_code)
    assert statuses.count(429) >= 2 and statuses[0] == 200, statuses
    assert last.status_code == 429
    assert last.headers["Content-Type"].startswith("application/scim+json")
    assert last.json()["status"] == "429"
    assert last.headers["X-RateLimit-Limit"] == "3"
    assert last.headers["X-RateLimit-Remaining"] == "0"
    retry = int(last.headers["Retry-After"])
    assert 1 <= retry <= 2 and int(last.headers["X-RateLimit-Reset"]) >= 1
    time.sleep(retry)
    ok = client.get("/Users")
    assert ok.status_code == 200 and "X-RateLimit-Remaining" in ok.headers
    # Other tenants are not limited.
    _, _, other = tenant_with_token(sql, base_url)
    assert all(other.get("/Users").status_code == 200 for _ in range(6))


def test_bulk_counts_as_its_operations(sql, base_url):
    name, _, client = tenant_with_token(sql, base_url)
    sql("SELECT scim.scim_rate_limit_set(0.5, 4)", tenant=name)
    assert client.get("/Users").status_code == 200
    ops = [{"method": "POST", "path": "/Users", "bulkId": f"b{i}", "data": {"userName": uniq("bulk")}}
           for i in range(4)]
    r = client.post("/Bulk", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops})
    assert r.status_code == 200, r.text
    assert client.get("/Users").status_code == 429


# -- Metrics ------------------------------------------------------------------

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$')


def test_metrics_scraped_and_parsed(sql, base_url):
    name, token, client = tenant_with_token(sql, base_url)
    tenant_id = sql("SELECT id::text FROM scim.tenants WHERE name = %s", (name,))[0][0]
    sql("SELECT scim.scim_rate_limit_set(0.01, 1)", tenant=name)
    assert client.get("/Users").status_code == 200          # learns the limit
    assert client.get("/Users/00000000-0000-0000-0000-000000000001").status_code == 404
    assert client.get("/Users").status_code == 429
    root = base_url.split("/scim/")[0]
    r = requests.get(root + "/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    samples = {}
    for line in r.text.splitlines():
        if line.startswith("#") or not line:
            continue
        m = LINE.match(line)
        assert m, line
        samples[(m.group(1), m.group(2) or "")] = float(m.group(3))
    assert samples[("scim_http_requests_total", f'{{tenant="{tenant_id}",method="GET",status="200"}}')] >= 1
    assert samples[("scim_http_requests_total", f'{{tenant="{tenant_id}",method="GET",status="404"}}')] >= 1
    buckets = [v for (n, _), v in samples.items() if n == "scim_http_request_duration_seconds_bucket"]
    assert buckets == sorted(buckets) and buckets[-1] == samples[("scim_http_request_duration_seconds_count", "")]
    assert samples[("scim_http_requests_total", f'{{tenant="{tenant_id}",method="GET",status="429"}}')] == 1
    assert samples[("scim_http_rate_limited_total", f'{{tenant="{tenant_id}"}}')] == 1
    assert ("scim_pool_connections", '{state="in_use"}') in samples
    assert ("scim_pool_waiting", "") in samples
    assert token not in r.text and "scim_" not in "".join(k[1] for k in samples)


# -- Tokens over HTTP (admin credential) --------------------------------------

def test_tokens_over_http_for_admins(sql, base_url):
    name, _, client = tenant_with_token(sql, base_url)
    admin = Scim(base_url, sql("SELECT scim.scim_token_issue('ops-admin', admin => true)", tenant=name)[0][0])
    assert client.get("/Tokens").status_code == 403
    assert client.post("/Tokens", {"label": "nope"}).status_code == 403
    r = admin.post("/Tokens", {"label": "entra", "expiresIn": 3600})
    assert r.status_code == 201, r.text
    entra = Scim(base_url, r.json()["token"])
    assert entra.get("/Users").status_code == 200
    listed = admin.get("/Tokens").json()["Resources"]
    mine = [t for t in listed if t["label"] == "entra"]
    assert len(mine) == 1 and mine[0]["expires"] and not mine[0]["admin"]
    assert all(set(t) == {"id", "label", "created", "revoked", "expires", "last_used", "admin"} for t in listed)
    r = admin.post(f"/Tokens/{mine[0]['id']}/rotate", {"overlapSeconds": 0})
    assert r.status_code == 201
    rotated = Scim(base_url, r.json()["token"])
    assert rotated.get("/Users").status_code == 200
    assert entra.get("/Users").status_code == 401                       # overlap 0: at once
    new_id = [t for t in admin.get("/Tokens").json()["Resources"] if t["label"] == "entra"][-1]["id"]
    assert admin.delete(f"/Tokens/{new_id}").status_code == 204
    assert rotated.get("/Users").status_code == 401
    # Bad input: clear 4xx, nothing written.
    before = len(admin.get("/Tokens").json()["Resources"])
    assert admin.post("/Tokens", {}).status_code == 400
    assert admin.post("/Tokens", {"label": "x", "expiresIn": -5}).status_code == 400
    assert admin.post("/Tokens", {"label": "x", "admin": "yes"}).status_code == 400
    assert admin.delete("/Tokens/not-a-uuid").status_code == 400
    assert admin.delete("/Tokens/00000000-0000-0000-0000-000000000001").status_code == 404
    assert admin.put("/Tokens", {"label": "x"}).status_code == 405
    assert len(admin.get("/Tokens").json()["Resources"]) == before
