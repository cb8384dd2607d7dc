"""Authentication (bearer tokens, 401 + WWW-Authenticate) and tenant
isolation: a tenant cannot see, modify or reference another tenant's
resources through any endpoint, filter or Bulk operation."""

import pytest

from scimhttp import (
    BULK_REQUEST,
    GROUP_SCHEMA,
    SEARCH_REQUEST,
    Scim,
    assert_error,
    ids,
    op,
    patch_body,
    uniq,
    user_body,
)

PROTECTED = [
    ("GET", "/Users"),
    ("POST", "/Users"),
    ("GET", "/Users/00000000-0000-0000-0000-000000000000"),
    ("PUT", "/Users/00000000-0000-0000-0000-000000000000"),
    ("PATCH", "/Users/00000000-0000-0000-0000-000000000000"),
    ("DELETE", "/Users/00000000-0000-0000-0000-000000000000"),
    ("GET", "/Groups"),
    ("POST", "/Groups"),
    ("POST", "/Users/.search"),
    ("POST", "/Bulk"),
]


def assert_401(r):
    body = assert_error(r, 401)
    challenge = r.headers.get("WWW-Authenticate", "")
    assert challenge.lower().startswith("bearer"), challenge
    return body


@pytest.mark.parametrize("method,path", PROTECTED)
def test_no_token_401(anon, method, path):
    assert_401(anon.request(method, path, {"schemas": [SEARCH_REQUEST]}))


@pytest.mark.parametrize(
    "header",
    [
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "Bearer not-a-scim-token",
        "Bearer scim_",
        "Bearer scim_zzzz_yyyy",
        "Bearer scim_00000000000000000000000000000000_secret",
    ],
)
def test_malformed_or_unknown_token_401(anon, header):
    assert_401(anon.get("/Users", headers={"Authorization": header}))


def test_wrong_secret_for_real_token_id_401(anon, token):
    head, _, secret = token.rpartition("_")
    forged = head + "_" + ("A" if secret[0] != "A" else "B") + secret[1:]
    assert_401(anon.get("/Users", headers={"Authorization": f"Bearer {forged}"}))
    assert_401(anon.get("/Users", headers={"Authorization": f"Bearer {head}_"}))


def test_scheme_is_case_insensitive(anon, token):
    r = anon.get("/ServiceProviderConfig")
    assert r.status_code == 200
    u = Scim(anon.base, token).create_user()
    r = anon.get(f"/Users/{u['id']}", headers={"Authorization": f"bearer {token}"})
    assert r.status_code == 200, r.text


def test_revoked_token_401_other_tokens_still_work(base_url, issue_token, revoke_token):
    label_a, label_b = uniq("revoke-a"), uniq("revoke-b")
    ta, tb = issue_token(label=label_a), issue_token(label=label_b)
    a, b = Scim(base_url, ta), Scim(base_url, tb)
    u = a.create_user()
    assert a.get(f"/Users/{u['id']}").status_code == 200
    revoke_token(label_a)
    assert_401(a.get(f"/Users/{u['id']}"))
    assert_401(a.post("/Users", user_body(uniq("after-revoke"))))
    assert b.get(f"/Users/{u['id']}").status_code == 200


def test_tokens_are_not_stored_in_clear(sql, token):
    # scim_<token id>_<secret>; the secret is base64url and may itself contain "_".
    secret = token.split("_", 2)[2]
    assert len(secret) >= 43
    rows = sql("SELECT count(*) FROM scim.tokens t WHERE t::text LIKE %s", (f"%{secret}%",))
    assert rows[0][0] == 0


# -- tenant isolation ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def a_side(scim):
    """Resources of the default tenant that tenant B must never reach."""
    u = scim.create_user(
        uniq("tenantA"),
        externalId=uniq("extA"),
        emails=[{"value": uniq("a") + "@tenant-a.example", "type": "work"}],
        displayName="Tenant A Person",
    )
    g = scim.create_group(uniq("tenantA-group"), members=[u["id"]])
    return u, g


@pytest.mark.parametrize("rt", ["Users", "Groups"])
def test_other_tenant_cannot_read(tenant_b, a_side, rt):
    target = a_side[0] if rt == "Users" else a_side[1]
    assert_error(tenant_b.client.get(f"/{rt}/{target['id']}"), 404)


def test_other_tenant_cannot_modify_or_delete(scim, tenant_b, a_side):
    u, g = a_side
    version_before = scim.read("Users", u["id"])["meta"]["version"]
    b = tenant_b.client
    assert_error(b.put(f"/Users/{u['id']}", user_body(u["userName"], displayName="hijack")), 404)
    assert_error(b.patch_resource("Users", u["id"], op("replace", "displayName", "hijack")), 404)
    assert_error(b.delete(f"/Users/{u['id']}"), 404)
    assert_error(b.put(f"/Groups/{g['id']}", {"schemas": [GROUP_SCHEMA], "displayName": "hijack"}), 404)
    assert_error(b.patch_resource("Groups", g["id"], op("add", "members", [{"value": u["id"]}])), 404)
    assert_error(b.delete(f"/Groups/{g['id']}"), 404)
    assert scim.read("Users", u["id"])["displayName"] == "Tenant A Person"
    assert scim.read("Users", u["id"])["meta"]["version"] == version_before
    assert scim.member_ids(g["id"]) == {u["id"]}


def test_same_user_name_allowed_in_other_tenant(tenant_b, a_side):
    u, _ = a_side
    r = tenant_b.client.post("/Users", user_body(u["userName"]))
    assert r.status_code == 201, r.text
    assert r.json()["id"] != u["id"]


def filters_for(u, g):
    return [
        ("Users", f'userName eq "{u["userName"]}"'),
        ("Users", f'id eq "{u["id"]}"'),
        ("Users", f'externalId eq "{u["externalId"]}"'),
        ("Users", f'emails.value eq "{u["emails"][0]["value"]}"'),
        ("Users", f'emails[value co "tenant-a.example"]'),
        ("Users", 'displayName eq "Tenant A Person"'),
        ("Users", f'meta.created eq "{u["meta"]["created"]}"'),
        ("Users", f'groups.value eq "{g["id"]}"'),
        ("Groups", f'displayName eq "{g["displayName"]}"'),
        ("Groups", f'id eq "{g["id"]}"'),
        ("Groups", f'members.value eq "{u["id"]}"'),
        ("Groups", f'members[value eq "{u["id"]}"]'),
    ]


def test_other_tenant_filters_never_leak(scim, new_tenant, a_side):
    u, g = a_side
    c = new_tenant("pytest-leak").client
    for rt, f in filters_for(u, g):
        # the same filter finds the resource for its owner ...
        mine = scim.get(f"/{rt}", params={"filter": f})
        assert mine.status_code == 200, (rt, f, mine.text)
        assert mine.json()["totalResults"] >= 1, (rt, f)
        # ... and nothing for another tenant (the filters are valid there too)
        r = c.get(f"/{rt}", params={"filter": f})
        assert r.status_code == 200, (rt, f, r.text)
        assert r.json()["totalResults"] == 0, (rt, f, r.text)
        assert r.json().get("Resources", []) == []
        r = c.post(f"/{rt}/.search", {"schemas": [SEARCH_REQUEST], "filter": f})
        assert r.status_code == 200, (rt, f, r.text)
        assert r.json()["totalResults"] == 0, (rt, f, r.text)


def test_other_tenant_unfiltered_list_is_only_its_own(new_tenant, a_side):
    c = new_tenant("pytest-own").client
    mine = {c.create_user()["id"] for _ in range(3)}
    body = c.list("Users", count=1000)
    assert body["totalResults"] == 3
    assert set(ids(body)) == mine
    assert c.list("Groups")["totalResults"] == 0


def test_other_tenant_cannot_reference_foreign_members(tenant_b, a_side):
    u, g = a_side
    b = tenant_b.client
    r = b.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": uniq("b-grp"), "members": [{"value": u["id"]}]})
    assert_error(r, 400, "invalidValue")
    r = b.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": uniq("b-grp"), "members": [{"value": g["id"]}]})
    assert_error(r, 400, "invalidValue")
    mine = b.create_group()
    r = b.patch_resource("Groups", mine["id"], op("add", "members", [{"value": u["id"]}]))
    assert_error(r, 400, "invalidValue")
    r = b.put(f"/Groups/{mine['id']}", {"schemas": [GROUP_SCHEMA], "displayName": mine["displayName"], "members": [{"value": u["id"]}]})
    assert_error(r, 400, "invalidValue")
    assert b.member_ids(mine["id"]) == set()


def test_other_tenant_manager_reference_does_not_leak(tenant_b, a_side):
    """A manager id from another tenant must not resolve to that user's data."""
    u, _ = a_side
    b = tenant_b.client
    ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    r = b.post("/Users", user_body(uniq("b-mgr"), **{ent: {"manager": {"value": u["id"]}}}))
    if r.status_code == 201:
        got = b.read("Users", r.json()["id"])
        assert "Tenant A" not in str(got)
        assert got[ent]["manager"].get("displayName") in (None, "")
    else:
        assert_error(r, 400)


def test_other_tenant_bulk_cannot_touch_foreign_resources(scim, tenant_b, a_side):
    u, g = a_side
    body = {
        "schemas": [BULK_REQUEST],
        "Operations": [
            {"method": "DELETE", "path": f"/Users/{u['id']}"},
            {"method": "PATCH", "path": f"/Groups/{g['id']}", "data": patch_body(op("remove", "members"))},
            {"method": "PUT", "path": f"/Users/{u['id']}", "data": user_body(u["userName"], displayName="hijack")},
            {"method": "POST", "path": "/Groups", "bulkId": "x",
             "data": {"displayName": uniq("b-bulk"), "members": [{"value": u["id"]}]}},
        ],
    }
    r = tenant_b.client.post("/Bulk", body)
    assert r.status_code == 200, r.text
    statuses = [str(o["status"]) for o in r.json()["Operations"]]
    assert statuses[:3] == ["404", "404", "404"]
    assert statuses[3] == "400"
    assert scim.read("Users", u["id"])["displayName"] == "Tenant A Person"
    assert scim.member_ids(g["id"]) == {u["id"]}


def test_user_groups_only_show_own_tenant(scim, tenant_b, a_side):
    u, g = a_side
    assert {x["value"] for x in scim.read("Users", u["id"])["groups"]} == {g["id"]}
