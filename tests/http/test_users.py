"""Users: create/read/replace/delete over HTTP (RFC 7644 §3.3–3.6),
validation errors, uniqueness, ETags and attribute projection."""

import json

import pytest

from scimhttp import (
    ENTERPRISE,
    USER_SCHEMA,
    assert_error,
    assert_scim_json,
    recorded,
    uniq,
    user_body,
    version_number,
)


def full_user(name):
    return user_body(
        name,
        externalId=uniq("ext"),
        name={"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
        displayName="Ada Lovelace",
        active=True,
        emails=[{"value": f"{name}@example.com", "type": "work", "primary": True}],
        phoneNumbers=[{"value": "+1 555 0100", "type": "work"}],
    )


def test_create_201_location_etag(scim):
    name = uniq("create")
    r = scim.post("/Users", full_user(name))
    assert r.status_code == 201, r.text
    assert_scim_json(r)
    u = r.json()
    assert u["userName"] == name
    assert USER_SCHEMA in u["schemas"]
    assert u["id"] and isinstance(u["id"], str)
    meta = u["meta"]
    assert meta["resourceType"] == "User"
    assert meta["created"] and meta["lastModified"]
    assert r.headers["ETag"] == meta["version"]
    assert r.headers["ETag"].startswith('W/"')
    loc = r.headers["Location"]
    assert loc.endswith(f"/Users/{u['id']}")
    assert meta["location"] == loc
    assert u["emails"][0]["value"] == f"{name}@example.com"
    assert u["name"]["givenName"] == "Ada"


def test_get_returns_same_resource_with_etag(scim):
    u = scim.create_user(**{"displayName": "Reader"})
    r = scim.get(f"/Users/{u['id']}")
    assert r.status_code == 200
    assert_scim_json(r)
    assert r.headers["ETag"] == u["meta"]["version"]
    got = r.json()
    assert got["id"] == u["id"] and got["userName"] == u["userName"]
    assert got["displayName"] == "Reader"


@pytest.mark.parametrize("rid", ["00000000-0000-0000-0000-000000000000", "not-a-uuid", "x%20y"])
def test_get_unknown_404(scim, rid):
    assert_error(scim.get(f"/Users/{rid}"), 404)


def test_password_is_never_returned(scim):
    u = scim.create_user(password="S3cret-pass!")
    assert "password" not in u
    assert "password" not in scim.read("Users", u["id"])
    assert "password" not in scim.read("Users", u["id"], attributes="password,userName")


def test_password_not_stored_in_clear(scim, sql):
    secret = "Clear-" + uniq("pw")
    u = scim.create_user(password=secret)
    rows = sql(
        "SELECT count(*) FROM scim.users WHERE id::text = %s AND resource::text LIKE %s",
        (u["id"], f"%{secret}%"),
    )
    assert rows[0][0] == 0


def test_accepts_application_json_content_type(scim):
    name = uniq("json")
    r = scim.post("/Users", raw=json.dumps(user_body(name)), headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert r.json()["userName"] == name


def test_attribute_names_are_case_insensitive(scim):
    name = uniq("Case")
    r = scim.post(
        "/Users",
        {"schemas": [USER_SCHEMA], "UserName": name, "DISPLAYNAME": "Shouty", "Name": {"GivenName": "G"}},
    )
    assert r.status_code == 201, r.text
    u = r.json()
    assert u["userName"] == name
    assert u["displayName"] == "Shouty"
    assert u["name"]["givenName"] == "G"


def test_entra_create_body(scim):
    """What Entra ID posts: meta.resourceType, roles: [], enterprise extension,
    externalId."""
    name = uniq("entra") + "@contoso.example"
    body = recorded("entra/create_user", userName=name, externalId=uniq("entra-ext"))
    r = scim.post("/Users", body)
    assert r.status_code == 201, r.text
    u = scim.read("Users", r.json()["id"])
    assert u["externalId"] == body["externalId"]
    assert u[ENTERPRISE] == {"employeeNumber": "1000", "department": "Ops"}
    assert ENTERPRISE in u["schemas"]


def test_okta_create_body_with_password_and_groups(scim):
    name = uniq("okta") + "@example.com"
    body = {
        "schemas": [USER_SCHEMA],
        "userName": name,
        "name": {"givenName": "Okta", "familyName": "User"},
        "emails": [{"primary": True, "value": name, "type": "work"}],
        "displayName": "Okta User",
        "locale": "en-US",
        "externalId": uniq("00u"),
        "groups": [],
        "password": "1mz050nq",
        "active": True,
    }
    r = scim.post("/Users", body)
    assert r.status_code == 201, r.text
    u = r.json()
    assert "password" not in u
    assert u["active"] is True
    assert u.get("groups", []) == []


def test_client_supplied_id_is_not_used(scim):
    r = scim.post("/Users", user_body(uniq("idtry"), id="client-chosen-id"))
    if r.status_code == 201:
        assert r.json()["id"] != "client-chosen-id"
    else:
        assert_error(r, 400)


# -- validation ---------------------------------------------------------------


def test_missing_user_name_400(scim):
    body = assert_error(scim.post("/Users", {"schemas": [USER_SCHEMA], "displayName": "x"}), 400)
    assert body.get("scimType") in ("invalidValue", "invalidSyntax")
    assert "userName" in body["detail"]


@pytest.mark.parametrize("value", [42, ["a"], {"x": 1}, "", "   "])
def test_bad_user_name_400(scim, value):
    assert_error(scim.post("/Users", {"schemas": [USER_SCHEMA], "userName": value}), 400)


def test_bad_attribute_type_400(scim):
    body = assert_error(scim.post("/Users", user_body(uniq("t"), active="maybe")), 400)
    assert body.get("scimType") == "invalidValue"
    assert_error(scim.post("/Users", user_body(uniq("t"), emails="a@b.c")), 400)


def test_invalid_json_400_invalid_syntax(scim):
    assert_error(scim.post("/Users", raw='{"userName": '), 400, "invalidSyntax")
    assert_error(scim.post("/Users", raw="[1, 2]"), 400)
    assert_error(scim.post("/Users", raw=""), 400)


def test_put_invalid_json_400(scim):
    u = scim.create_user()
    assert_error(scim.put(f"/Users/{u['id']}", raw="nope"), 400, "invalidSyntax")


# -- uniqueness ----------------------------------------------------------------


def test_duplicate_user_name_409(scim):
    name = uniq("Dup")
    scim.create_user(name)
    assert_error(scim.post("/Users", user_body(name)), 409, "uniqueness")


def test_case_variant_duplicate_user_name_409(scim):
    name = uniq("CaseDup")
    scim.create_user(name)
    assert_error(scim.post("/Users", user_body(name.upper())), 409, "uniqueness")
    assert_error(scim.post("/Users", user_body(name.lower())), 409, "uniqueness")


def test_rename_onto_existing_user_name_409(scim):
    a = scim.create_user(uniq("ren-a"))
    b = scim.create_user(uniq("ren-b"))
    r = scim.put(f"/Users/{b['id']}", user_body(a["userName"].upper()))
    assert_error(r, 409, "uniqueness")
    assert scim.read("Users", b["id"])["userName"] == b["userName"]


def test_failed_create_leaves_no_trace(scim, sql):
    name = uniq("trace")
    scim.create_user(name)
    scim.post("/Users", user_body(name.upper()))
    rows = sql("SELECT count(*) FROM scim.users WHERE lower(user_name) = lower(%s)", (name,))
    assert rows[0][0] == 1


# -- replace / delete -------------------------------------------------------------


def test_put_replaces_and_bumps_version(scim):
    u = scim.create_user(**{"displayName": "Before", "title": "Engineer"})
    body = user_body(u["userName"], displayName="After")
    r = scim.put(f"/Users/{u['id']}", body)
    assert r.status_code == 200, r.text
    assert_scim_json(r)
    got = r.json()
    assert got["displayName"] == "After"
    assert "title" not in got, "PUT replaces: attributes not sent are cleared"
    assert got["id"] == u["id"]
    assert got["meta"]["created"] == u["meta"]["created"]
    assert int(version_number(got["meta"]["version"])) > int(version_number(u["meta"]["version"]))
    assert r.headers["ETag"] == got["meta"]["version"]


def test_put_okta_full_body_with_meta(scim):
    """Okta sends the whole resource back, meta and id included."""
    u = scim.create_user(**{"active": True, "name": {"givenName": "A", "familyName": "B"}})
    body = dict(u)
    body["active"] = False
    body["name"] = {"givenName": "A", "familyName": "Changed"}
    r = scim.put(f"/Users/{u['id']}", body)
    assert r.status_code == 200, r.text
    got = scim.read("Users", u["id"])
    assert got["active"] is False
    assert got["name"]["familyName"] == "Changed"


def test_put_unknown_404(scim):
    assert_error(scim.put("/Users/00000000-0000-0000-0000-000000000000", user_body(uniq("x"))), 404)


def test_put_without_user_name_400(scim):
    u = scim.create_user()
    assert_error(scim.put(f"/Users/{u['id']}", {"schemas": [USER_SCHEMA], "displayName": "x"}), 400)


def test_delete_204_then_404(scim):
    u = scim.create_user()
    r = scim.delete(f"/Users/{u['id']}")
    assert r.status_code == 204
    assert r.content == b""
    assert_error(scim.get(f"/Users/{u['id']}"), 404)
    assert_error(scim.delete(f"/Users/{u['id']}"), 404)
    assert_error(scim.put(f"/Users/{u['id']}", user_body(u["userName"])), 404)


def test_delete_frees_user_name(scim):
    u = scim.create_user()
    assert scim.delete(f"/Users/{u['id']}").status_code == 204
    again = scim.create_user(u["userName"])
    assert again["id"] != u["id"]


def test_deleted_user_leaves_groups(scim):
    u = scim.create_user()
    g = scim.create_group(members=[u["id"]])
    assert scim.delete(f"/Users/{u['id']}").status_code == 204
    assert scim.member_ids(g["id"]) == set()


# -- ETags ---------------------------------------------------------------------------


def test_if_match_stale_412_current_200(scim):
    u = scim.create_user()
    v1 = u["meta"]["version"]
    r = scim.put(f"/Users/{u['id']}", user_body(u["userName"], displayName="one"), headers={"If-Match": v1})
    assert r.status_code == 200, r.text
    v2 = r.headers["ETag"]
    assert v2 != v1
    r = scim.put(f"/Users/{u['id']}", user_body(u["userName"], displayName="two"), headers={"If-Match": v1})
    assert_error(r, 412)
    assert scim.read("Users", u["id"])["displayName"] == "one"
    assert_error(scim.delete(f"/Users/{u['id']}", headers={"If-Match": v1}), 412)
    assert scim.delete(f"/Users/{u['id']}", headers={"If-Match": v2}).status_code == 204


def test_if_match_star(scim):
    u = scim.create_user()
    r = scim.put(f"/Users/{u['id']}", user_body(u["userName"], displayName="star"), headers={"If-Match": "*"})
    assert r.status_code == 200, r.text


def test_if_none_match_304(scim):
    u = scim.create_user()
    tag = u["meta"]["version"]
    r = scim.get(f"/Users/{u['id']}", headers={"If-None-Match": tag})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["ETag"] == tag
    r = scim.get(f"/Users/{u['id']}", headers={"If-None-Match": 'W/"999999"'})
    assert r.status_code == 200
    r = scim.get(f"/Users/{u['id']}", headers={"If-None-Match": f'W/"999999", {tag}'})
    assert r.status_code == 304


def test_if_none_match_after_change_200(scim):
    u = scim.create_user()
    tag = u["meta"]["version"]
    assert scim.put(f"/Users/{u['id']}", user_body(u["userName"], displayName="changed")).status_code == 200
    r = scim.get(f"/Users/{u['id']}", headers={"If-None-Match": tag})
    assert r.status_code == 200
    assert r.json()["displayName"] == "changed"


# -- attributes / excludedAttributes -----------------------------------------------


def test_attributes_projection(scim):
    u = scim.create_user(**full_user("x") | {"userName": uniq("proj")})
    got = scim.read("Users", u["id"], attributes="userName")
    assert got["id"] == u["id"], "id is always returned"
    assert got["userName"] == u["userName"]
    for absent in ("emails", "name", "displayName", "phoneNumbers", "active"):
        assert absent not in got, absent


def test_attributes_sub_attribute_projection(scim):
    u = scim.create_user(**full_user("x") | {"userName": uniq("proj")})
    got = scim.read("Users", u["id"], attributes="name.givenName,emails.value")
    assert got["name"] == {"givenName": "Ada"}
    assert got["emails"] == [{"value": u["emails"][0]["value"]}]
    assert "displayName" not in got


def test_attributes_case_insensitive_and_urn_qualified(scim):
    u = scim.create_user(**full_user("x") | {"userName": uniq("proj")})
    got = scim.read("Users", u["id"], attributes=f"USERNAME,{USER_SCHEMA}:displayName")
    assert got["userName"] == u["userName"]
    assert got["displayName"] == "Ada Lovelace"
    assert "emails" not in got


def test_excluded_attributes(scim):
    u = scim.create_user(**full_user("x") | {"userName": uniq("excl")})
    got = scim.read("Users", u["id"], excludedAttributes="emails,name")
    assert "emails" not in got and "name" not in got
    assert got["userName"] == u["userName"]
    assert got["id"] == u["id"]
    assert got["displayName"] == "Ada Lovelace"


def test_excluded_attributes_cannot_drop_id(scim):
    u = scim.create_user()
    got = scim.read("Users", u["id"], excludedAttributes="id,userName")
    assert got["id"] == u["id"]


def test_enterprise_extension_projection(scim):
    u = scim.create_user(
        uniq("ent"),
        schemas=[USER_SCHEMA, ENTERPRISE],
        **{ENTERPRISE: {"employeeNumber": "42", "costCenter": "cc"}},
    )
    got = scim.read("Users", u["id"], attributes=f"{ENTERPRISE}:employeeNumber")
    assert got[ENTERPRISE] == {"employeeNumber": "42"}
    got = scim.read("Users", u["id"], excludedAttributes=ENTERPRISE)
    assert ENTERPRISE not in got


@pytest.mark.parametrize("attr", ["userName", "displayName"])
def test_long_indexed_value_clean_error(scim, attr):
    """Indexed values are limited to 2048 bytes (README, Limits): a longer
    one is a clean 400 that names the attribute, and one at the limit is
    stored."""
    import secrets

    body = user_body(uniq("long"))
    body[attr] = body.get(attr, "") + secrets.token_hex(2000)
    r = scim.post("/Users", body)
    err = assert_error(r, 400, "invalidValue")
    assert "index" not in err["detail"].lower(), err["detail"]
    assert attr.lower() in err["detail"].lower(), err["detail"]
    body = user_body(uniq("long"))
    body[attr] = "x" * (2048 - 40) + body.get(attr, "")[:40]
    r = scim.post("/Users", body)
    assert r.status_code == 201, r.text
    assert scim.read("Users", r.json()["id"])[attr] == body[attr]


def test_put_ignores_id_in_body(scim):
    u = scim.create_user()
    r = scim.put(f"/Users/{u['id']}", user_body(u["userName"], id="something-else", displayName="kept id"))
    assert r.status_code == 200, r.text
    assert r.json()["id"] == u["id"]
    assert scim.read("Users", u["id"])["displayName"] == "kept id"
    assert_error(scim.get("/Users/something-else"), 404)


def test_non_ascii_case_variant_duplicate_409(scim):
    name = uniq("ÉCOLE-Ünïcode")
    scim.create_user(name)
    assert_error(scim.post("/Users", user_body(name.lower())), 409, "uniqueness")


def test_location_header_can_be_followed(scim):
    from urllib.parse import urljoin

    r = scim.post("/Users", user_body(uniq("loc")))
    assert r.status_code == 201
    target = urljoin(r.url, r.headers["Location"])
    got = scim.http.get(target, headers={"Authorization": f"Bearer {scim.token}"})
    assert got.status_code == 200, (target, got.status_code)
    assert got.json()["id"] == r.json()["id"]


def test_if_match_list_and_unquoted_forms(scim):
    u = scim.create_user()
    v = u["meta"]["version"]
    r = scim.put(f"/Users/{u['id']}", user_body(u["userName"]), headers={"If-Match": f'W/"999", {v}'})
    assert r.status_code == 200, r.text
    assert_error(scim.put(f"/Users/{u['id']}", user_body(u["userName"]), headers={"If-Match": "garbage"}), 412)


def test_password_changes_persist_as_new_hashes(scim, sql):
    """A password is stored as an argon2id hash only; a change writes a new
    hash, other changes keep it, and it is never returned."""
    u = scim.create_user(password="First-Secret-1")
    stored = lambda: sql("SELECT password_hash FROM scim.users WHERE id = %s", (u["id"],))[0][0]  # noqa: E731
    h1 = stored()
    assert h1.startswith("$argon2id$") and "First-Secret-1" not in h1
    patch = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    r = scim.patch(f"/Users/{u['id']}", {"schemas": [patch],
                                         "Operations": [{"op": "replace", "path": "password", "value": "Second-Secret-2"}]})
    assert r.status_code == 200, r.text
    h2 = stored()
    assert h2.startswith("$argon2id$") and h2 != h1
    r = scim.patch(f"/Users/{u['id']}", {"schemas": [patch],
                                         "Operations": [{"op": "replace", "path": "title", "value": "kept"}]})
    assert r.status_code == 200, r.text
    assert stored() == h2
    assert "password" not in r.json() and "password" not in scim.read("Users", u["id"])
