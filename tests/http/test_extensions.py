"""Per-tenant extension schemas and policy from group attributes (issue 13),
over HTTP, as an IdP drives them: the tenant registers the vendor group
extension and maps it into policy (SQL), the IdP creates and patches
groups carrying it (Entra's capitalised ops, with and without URN
prefixes), filters on it, and members' effective policy follows."""

import json

from scimhttp import GROUP_SCHEMA, PATCH_OP, USER_SCHEMA, assert_error, ids, uniq

X = "urn:arbitex:scim:schemas:extension:Group:2.0"
DEFINITION = {
    "id": X,
    "name": "ArbitexGroup",
    "description": "Arbitex group policy",
    "attributes": [
        {"name": "modelAccess", "type": "string", "multiValued": True},
        {"name": "quotaTokens", "type": "integer"},
        {"name": "complianceBundles", "type": "string", "multiValued": True},
        {"name": "dlpPolicy", "type": "string", "canonicalValues": ["SKIP", "REDACT", "CANCEL", "BLOCK"]},
    ],
}


def setup_tenant(new_tenant, sql):
    t = new_tenant("ext")
    sql("SELECT scim.scim_extension_schema_put('Group', %s::jsonb, true)", (json.dumps(DEFINITION),), tenant=t.name)
    for attr, kind, target, ranks in [
        ("modelAccess", "allow", "models", None),
        ("quotaTokens", "limit", "quotaTokens", None),
        ("complianceBundles", "require", "compliance", None),
        ("dlpPolicy", "rank", "dlp", json.dumps(["SKIP", "REDACT", "CANCEL", "BLOCK"])),
    ]:
        sql("SELECT scim.scim_policy_attribute_map(%s, %s, %s, %s, %s::jsonb)", (X, attr, kind, target, ranks), tenant=t.name)
    return t


def effective(sql, tenant, user):
    return sql("SELECT scim.effective_policy(%s)", (user,), tenant=tenant.name)[0][0]


def allows(sql, tenant, user, domain, item):
    return sql("SELECT scim.policy_allows(%s, %s, %s)", (user, domain, item), tenant=tenant.name)[0][0]


def test_full_idp_flow(new_tenant, sql):
    t = setup_tenant(new_tenant, sql)
    scim = t.client
    alice = scim.create_user(uniq("alice"))
    bob = scim.create_user(uniq("bob"))

    # discovery is per tenant and true
    schemas = scim.get("/Schemas").json()
    ours = [s for s in schemas["Resources"] if s["id"] == X]
    assert len(ours) == 1 and [a["name"] for a in ours[0]["attributes"]][:2] == ["modelAccess", "quotaTokens"]
    assert scim.get(f"/Schemas/{X}").json()["attributes"][3]["canonicalValues"] == ["SKIP", "REDACT", "CANCEL", "BLOCK"]
    rt = scim.get("/ResourceTypes/Group").json()
    assert rt["schemaExtensions"] == [{"schema": X, "required": True}]

    # the IdP creates the group (plus an unknown URN without data: ignored)
    body = {
        "schemas": [GROUP_SCHEMA, X, "urn:idp:noise:1.0"],
        "displayName": uniq("data-science-team"),
        "externalId": "grp_ds_001",
        "members": [{"value": alice["id"]}],
        X: {"modelAccess": ["gpt-4o", "claude-3-5-sonnet"], "quotaTokens": 500000,
            "complianceBundles": ["soc2-type2"], "dlpPolicy": "redact"},
    }
    r = scim.post("/Groups", body)
    assert r.status_code == 201, r.text
    g = r.json()
    assert g["schemas"] == [GROUP_SCHEMA, X]
    assert g[X]["dlpPolicy"] == "REDACT"

    before = effective(sql, t, alice["userName"])
    assert before["allow"] == {"models": ["claude-3-5-sonnet", "gpt-4o"]}
    assert before["limits"] == {"quotaTokens": 500000}
    assert before["require"] == {"compliance": ["soc2-type2"]}
    assert before["levels"] == {"dlp": "REDACT"}
    assert allows(sql, t, alice["userName"], "models", "gpt-4o")
    assert not allows(sql, t, bob["userName"], "models", "gpt-4o"), "bob is in no group"

    # Entra: capitalised ops, URN-prefixed path; no-path replace with URN keys
    changes_before = sql("SELECT coalesce(max(seq), 0) FROM scim.scim_policy_changes()", tenant=t.name)[0][0]
    ops = [
        {"op": "Replace", "path": "quotaTokens", "value": 1500},  # without the URN (unambiguous)
        {"op": "Replace", "path": f"{X}:quotaTokens", "value": 1000},
        {"op": "Replace", "value": {f"{X}:modelAccess": ["gpt-4o"]}},
        {"op": "Add", "value": {"members": [{"value": bob["id"]}]}},
        {"op": "replace", "value": {X: {"dlpPolicy": "BLOCK"}}},
    ]
    r = scim.patch(f"/Groups/{g['id']}", {"schemas": [PATCH_OP], "Operations": ops})
    assert r.status_code == 204, r.text
    changed = sql("SELECT users FROM scim.scim_policy_changes(%s)", (changes_before,), tenant=t.name)
    assert {str(u) for row in changed for u in (row[0] or [])} >= {alice["id"], bob["id"]}
    got = scim.read("Groups", g["id"], attributes=f"{X}:quotaTokens,{X}:modelAccess")
    assert got[X] == {"quotaTokens": 1000, "modelAccess": ["gpt-4o"]}

    after = effective(sql, t, bob["userName"])
    assert after["allow"] == {"models": ["gpt-4o"]}
    assert after["limits"] == {"quotaTokens": 1000} and after["levels"] == {"dlp": "BLOCK"}
    assert not allows(sql, t, alice["userName"], "models", "claude-3-5-sonnet")
    explain = sql("SELECT scim.effective_policy_explain(%s)", (alice["userName"],), tenant=t.name)[0][0]
    assert explain["limits"]["quotaTokens"]["set_by"] == [
        {"group": g["displayName"], "policy": f"{X}:quotaTokens", "value": 1000}]

    # filters on the extension: numbers, multi-valued strings, absent + ne
    plain = scim.create_group(uniq("plain"), **{X: {"quotaTokens": 5}})
    assert ids(scim.list("Groups", filter=f"{X}:quotaTokens gt 100")) == [g["id"]]
    assert ids(scim.list("Groups", filter="quotaTokens gt 100")) == [g["id"]]
    assert ids(scim.list("Groups", filter=f'{X}:modelAccess eq "GPT-4O"')) == [g["id"]]
    assert ids(scim.list("Groups", filter=f'{X}:dlpPolicy ne "block"')) == [plain["id"]]
    listed = scim.list("Groups", sortBy=f"{X}:quotaTokens", filter=f"{X}:quotaTokens pr")
    assert ids(listed) == [plain["id"], g["id"]]
    r = scim.post("/Groups/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                      "filter": f"{X}:quotaTokens le 1000", "excludedAttributes": X})
    assert r.status_code == 200 and all(X not in x for x in r.json()["Resources"])

    # removing the schema: refused while data exists, then with the data
    r = sql("SELECT count(*) FROM scim.scim_extension_schemas()", tenant=t.name)
    assert r[0][0] == 1
    try:
        sql("SELECT scim.scim_extension_schema_remove(%s)", (X,), tenant=t.name)
        raise AssertionError("removal with data must fail")
    except Exception as e:  # psycopg error: 409 in DETAIL
        assert "drop_data" in str(e)
    assert sql("SELECT scim.scim_extension_schema_remove(%s, true)", (X,), tenant=t.name)[0][0] == 2
    assert X not in scim.read("Groups", g["id"])
    assert effective(sql, t, alice["userName"])["allow"] == {}
    assert [s["id"] for s in scim.get("/Schemas").json()["Resources"] if s["id"] == X] == []


def test_bad_input_is_a_clear_400_and_stores_nothing(new_tenant, sql):
    t = setup_tenant(new_tenant, sql)
    scim = t.client
    name = uniq("bad")
    cases = [
        ({X: {"quotaTokens": "lots"}}, "must be an integer"),
        ({X: {"dlpPolicy": "ALLOW"}}, "expected one of SKIP, REDACT, CANCEL, BLOCK"),
        ({X: {"modelAccess": "gpt-4o"}}, "multi-valued"),
        ({X: {"nope": 1}}, "unknown attribute"),
        ({X: {"quotaTokens": 1}, "urn:acme:unknown:1.0": {"a": 1}}, "urn:acme:unknown:1.0"),
        ({}, f"must carry the extension '{X}'"),  # registered with required = true
    ]
    for extra, want in cases:
        r = scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": name, **extra})
        body = assert_error(r, 400, "invalidValue")
        assert want in body["detail"], (extra, body)
    assert scim.list("Groups", filter=f'displayName eq "{name}"')["totalResults"] == 0
    g = scim.create_group(name, **{X: {"quotaTokens": 1}})
    r = scim.patch(f"/Groups/{g['id']}", {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": f"{X}:dlpPolicy", "value": "maybe"}]})
    assert_error(r, 400, "invalidValue")
    assert scim.read("Groups", g["id"])[X] == {"quotaTokens": 1}
    r = scim.get("/Groups", params={"filter": f'{X}:quotaTokens eq "1"'})
    assert_error(r, 400, "invalidFilter")


def test_discovery_without_a_token_is_the_built_in_one(new_tenant, sql, anon):
    setup_tenant(new_tenant, sql)
    r = anon.get("/ResourceTypes/Group")
    assert r.status_code == 200 and r.json()["schemaExtensions"] == []
    assert anon.get(f"/Schemas/{X}").status_code == 404


def test_user_extension_and_tenant_isolation(new_tenant, sql):
    t, other = new_tenant("uext"), new_tenant("uext-other")
    urn = "urn:acme:scim:user:1.0"
    sql("SELECT scim.scim_extension_schema_put('User', %s::jsonb)", (json.dumps({"id": urn, "attributes": [
        {"name": "badge", "type": "string", "uniqueness": "server"},
        {"name": "pin", "type": "string", "mutability": "writeOnly"}]}),), tenant=t.name)
    u = t.client.create_user(uniq("u"), schemas=[USER_SCHEMA, urn], **{urn: {"BADGE": "B-1", "pin": "1234"}})
    assert u[urn] == {"badge": "B-1"}, "writeOnly is never returned"
    r = t.client.post("/Users", {"userName": uniq("u"), urn: {"badge": "b-1"}})
    assert_error(r, 409, "uniqueness")
    assert ids(t.client.list("Users", filter=f'{urn}:badge eq "b-1"')) == [u["id"]]
    assert_error(other.client.post("/Users", {"userName": uniq("u"), urn: {"badge": "x"}}), 400, "invalidValue")
    assert_error(other.client.get("/Users", params={"filter": f'{urn}:badge eq "x"'}), 400, "invalidFilter")
