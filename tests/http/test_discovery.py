"""Discovery endpoints (RFC 7644 §4, RFC 7643 §5–7): shapes, and that the
ServiceProviderConfig tells the truth about what the server does."""

import pytest

from scimhttp import (
    ENTERPRISE,
    GROUP_SCHEMA,
    LIST_RESPONSE,
    RT_SCHEMA,
    SCHEMA_SCHEMA,
    SPC_SCHEMA,
    USER_SCHEMA,
    assert_error,
    assert_scim_json,
    op,
    uniq,
)

ATTR_KEYS = {"name", "type", "multiValued", "required", "caseExact", "mutability", "returned", "uniqueness"}


@pytest.fixture(scope="module")
def spc(scim):
    r = scim.get("/ServiceProviderConfig")
    assert r.status_code == 200, r.text
    assert_scim_json(r)
    return r.json()


def test_spc_shape(spc):
    assert spc["schemas"] == [SPC_SCHEMA]
    for feature in ("patch", "bulk", "filter", "changePassword", "sort", "etag"):
        assert isinstance(spc[feature]["supported"], bool), feature
    if spc["bulk"]["supported"]:
        assert spc["bulk"]["maxOperations"] > 0
        assert spc["bulk"]["maxPayloadSize"] > 0
    if spc["filter"]["supported"]:
        assert spc["filter"]["maxResults"] > 0
    schemes = spc["authenticationSchemes"]
    assert schemes and all({"type", "name", "description"} <= set(s) for s in schemes)
    assert any(s["type"] == "oauthbearertoken" for s in schemes)
    assert spc["meta"]["resourceType"] == "ServiceProviderConfig"


def test_discovery_readable_with_and_without_token(scim, anon):
    for path in ("/ServiceProviderConfig", "/ResourceTypes", "/Schemas"):
        assert scim.get(path).status_code == 200, path
        assert anon.get(path).status_code == 200, path


@pytest.mark.parametrize("path", ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas", "/Schemas/" + USER_SCHEMA])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_discovery_is_read_only(scim, path, method):
    r = scim.request(method, path, {"schemas": [SPC_SCHEMA]})
    assert_error(r, 405)


def test_resource_types(scim):
    r = scim.get("/ResourceTypes")
    assert r.status_code == 200
    assert_scim_json(r)
    body = r.json()
    assert body["schemas"] == [LIST_RESPONSE]
    by_name = {rt["name"]: rt for rt in body["Resources"]}
    assert body["totalResults"] == len(body["Resources"]) == 2
    user, group = by_name["User"], by_name["Group"]
    for rt in (user, group):
        assert rt["schemas"] == [RT_SCHEMA]
        assert rt["meta"]["resourceType"] == "ResourceType"
        assert rt["id"] == rt["name"]
    assert (user["endpoint"], user["schema"]) == ("/Users", USER_SCHEMA)
    assert (group["endpoint"], group["schema"]) == ("/Groups", GROUP_SCHEMA)
    assert {"schema": ENTERPRISE, "required": False} in user["schemaExtensions"]


@pytest.mark.parametrize("name,endpoint", [("User", "/Users"), ("Group", "/Groups")])
def test_resource_type_by_name(scim, name, endpoint):
    r = scim.get(f"/ResourceTypes/{name}")
    assert r.status_code == 200
    assert_scim_json(r)
    assert r.json()["endpoint"] == endpoint


def test_unknown_resource_type_and_schema_404(scim):
    assert_error(scim.get("/ResourceTypes/Widget"), 404)
    assert_error(scim.get("/Schemas/urn:example:nope"), 404)


def test_schemas_list(scim):
    r = scim.get("/Schemas")
    assert r.status_code == 200
    assert_scim_json(r)
    body = r.json()
    assert body["schemas"] == [LIST_RESPONSE]
    by_id = {s["id"]: s for s in body["Resources"]}
    assert {USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE} <= set(by_id)
    assert body["totalResults"] == len(body["Resources"])
    for s in by_id.values():
        assert s["schemas"] == [SCHEMA_SCHEMA]
        assert s["meta"]["resourceType"] == "Schema"
        for a in s["attributes"]:
            check_attribute(s["id"], a)
            assert (a["type"] == "complex") == bool(a.get("subAttributes")), (s["id"], a["name"])
            for sub in a.get("subAttributes", []):
                check_attribute(s["id"], sub)


def check_attribute(schema_id, a):
    # caseExact and uniqueness have RFC 7643 §2.2 defaults; caseExact only
    # means something for strings, uniqueness nothing for complex values.
    need = set(ATTR_KEYS)
    if a["type"] not in ("string", "reference", "binary"):
        need.discard("caseExact")
    if a["type"] not in ("string", "reference", "binary", "integer", "decimal"):
        need.discard("uniqueness")
    assert need <= set(a), (schema_id, a)
    assert a["type"] in {"string", "boolean", "decimal", "integer", "dateTime", "reference", "binary", "complex"}
    assert a["mutability"] in {"readOnly", "readWrite", "immutable", "writeOnly"}
    assert a["returned"] in {"always", "never", "default", "request"}


def test_user_schema_attribute_characteristics(scim):
    r = scim.get("/Schemas/" + USER_SCHEMA)
    assert r.status_code == 200
    attrs = {a["name"]: a for a in r.json()["attributes"]}
    un = attrs["userName"]
    assert (un["required"], un["caseExact"], un["uniqueness"]) == (True, False, "server")
    pw = attrs["password"]
    assert (pw["mutability"], pw["returned"]) == ("writeOnly", "never")
    assert attrs["groups"]["mutability"] == "readOnly"
    assert attrs["emails"]["multiValued"] is True
    assert attrs["active"]["type"] == "boolean"


def test_group_schema_members(scim):
    r = scim.get("/Schemas/" + GROUP_SCHEMA)
    assert r.status_code == 200
    attrs = {a["name"]: a for a in r.json()["attributes"]}
    assert attrs["displayName"]["required"] is True
    members = attrs["members"]
    assert members["multiValued"] is True
    assert {"value", "$ref"} <= {s["name"] for s in members["subAttributes"]}


def test_schema_urn_lookup_case_insensitive(scim):
    r = scim.get("/Schemas/" + ENTERPRISE.upper())
    assert r.status_code == 200
    assert r.json()["id"] == ENTERPRISE


# -- SPC tells the truth ----------------------------------------------------


def test_spc_etag_truth(spc, scim):
    u = scim.create_user()
    r = scim.get(f"/Users/{u['id']}")
    if spc["etag"]["supported"]:
        assert r.headers.get("ETag") == u["meta"]["version"]
    else:
        assert "ETag" not in r.headers


def test_spc_patch_truth(spc, scim):
    u = scim.create_user()
    r = scim.patch_resource("Users", u["id"], op("replace", "displayName", "Patched"))
    if spc["patch"]["supported"]:
        assert r.status_code in (200, 204), r.text
    else:
        assert r.status_code in (501, 405)


def test_spc_filter_and_sort_truth(spc, scim):
    name = uniq("spc")
    scim.create_user(name)
    r = scim.get("/Users", params={"filter": f'userName eq "{name}"', "sortBy": "userName"})
    if spc["filter"]["supported"]:
        assert r.status_code == 200, r.text
        assert r.json()["totalResults"] == 1
    else:
        assert r.status_code in (400, 501)
    if spc["sort"]["supported"]:
        assert r.status_code == 200


def test_spc_bulk_truth(spc, scim):
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": {"schemas": [USER_SCHEMA], "userName": uniq("bulk")}}
        ],
    }
    r = scim.post("/Bulk", body)
    if spc["bulk"]["supported"]:
        assert r.status_code == 200, r.text
    else:
        assert r.status_code in (501, 405)


def test_spc_change_password_truth(spc, scim):
    u = scim.create_user(password="Initial-pass-1")
    r = scim.patch_resource("Users", u["id"], op("replace", "password", "Changed-pass-2"))
    if spc["changePassword"]["supported"]:
        assert r.status_code in (200, 204), r.text
        assert "password" not in scim.read("Users", u["id"])
    else:
        assert r.status_code in (400, 501)


def test_spc_pagination_cursor_truth(spc, scim):
    pag = spc.get("pagination")
    if not pag or not pag.get("cursor"):
        pytest.skip("cursor pagination not advertised")
    r = scim.get("/Users", params={"cursor": "", "count": 1})
    assert r.status_code == 200, r.text
    assert_scim_json(r)


def test_spc_max_results_truth(spc, scim):
    r = scim.get("/Users", params={"count": spc["filter"]["maxResults"] + 50})
    assert r.status_code == 200, r.text
    assert r.json()["itemsPerPage"] <= spc["filter"]["maxResults"]
