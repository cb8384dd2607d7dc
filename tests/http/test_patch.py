"""PATCH (RFC 7644 §3.5.2) with every request shape Entra ID and Okta send
(shared/design/IDP-REQUESTS.md), for Users and Groups."""

import pytest

from scimhttp import ENTERPRISE, PATCH_OP, assert_error, op, patch_body, uniq, version_number


@pytest.fixture
def user(scim):
    name = uniq("patch")
    return scim.create_user(
        name,
        schemas=["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        displayName="Before",
        title="Engineer",
        active=True,
        name={"givenName": "Pat", "familyName": "Ch"},
        emails=[
            {"value": f"{name}@work.example", "type": "work", "primary": True},
            {"value": f"{name}@home.example", "type": "home"},
        ],
        **{ENTERPRISE: {"employeeNumber": "1", "department": "R&D"}},
    )


# -- Users: generic ------------------------------------------------------------------


def test_patch_replace_returns_resource_and_bumps_version(scim, user):
    r = scim.patch_resource("Users", user["id"], op("replace", "displayName", "After"))
    assert r.status_code in (200, 204), r.text
    got = scim.read("Users", user["id"])
    assert got["displayName"] == "After"
    assert got["title"] == "Engineer"
    assert int(version_number(got["meta"]["version"])) > int(version_number(user["meta"]["version"]))
    if r.status_code == 200:
        assert r.json()["displayName"] == "After"
        assert r.headers["ETag"] == r.json()["meta"]["version"]


def test_patch_add_remove_simple(scim, user):
    got = scim.patched("Users", user["id"], op("add", "nickName", "Patty"), op("remove", "title"))
    assert got["nickName"] == "Patty"
    assert "title" not in got


def test_patch_add_to_multi_valued_appends(scim, user):
    got = scim.patched(
        "Users", user["id"], op("add", "phoneNumbers", [{"value": "+1 555 0101", "type": "mobile"}])
    )
    got = scim.patched(
        "Users", user["id"], op("add", "phoneNumbers", [{"value": "+1 555 0102", "type": "work"}])
    )
    assert {p["value"] for p in got["phoneNumbers"]} == {"+1 555 0101", "+1 555 0102"}


def test_patch_remove_by_value_filter(scim, user):
    got = scim.patched("Users", user["id"], op("remove", 'emails[type eq "home"]'))
    assert [e["type"] for e in got["emails"]] == ["work"]


def test_patch_path_names_case_insensitive(scim, user):
    got = scim.patched("Users", user["id"], op("replace", "DisplayName", "Cased"), op("replace", "NAME.GIVENNAME", "G"))
    assert got["displayName"] == "Cased"
    assert got["name"]["givenName"] == "G"


def test_patch_multiple_ops_in_order(scim, user):
    got = scim.patched(
        "Users",
        user["id"],
        op("replace", "displayName", "one"),
        op("replace", "displayName", "two"),
        op("add", "title", "Boss"),
    )
    assert (got["displayName"], got["title"]) == ("two", "Boss")


# -- Users: Entra ID -------------------------------------------------------------------


@pytest.mark.parametrize("text,expected", [("False", False), ("false", False), ("FALSE", False), ("True", True)])
def test_entra_capitalised_ops_and_string_booleans(scim, user, text, expected):
    if expected:
        scim.patched("Users", user["id"], op("replace", "active", False))
    got = scim.patched("Users", user["id"], op("Replace", "active", text))
    assert got["active"] is expected


def test_entra_no_path_replace_with_dotted_and_urn_keys(scim, user):
    got = scim.patched(
        "Users",
        user["id"],
        op(
            "replace",
            value={
                "displayName": "Entra Name",
                "name.givenName": "Given",
                "name.familyName": "Family",
                f"{ENTERPRISE}:employeeNumber": "9001",
            },
        ),
    )
    assert got["displayName"] == "Entra Name"
    assert got["name"] == {"givenName": "Given", "familyName": "Family"}
    assert got[ENTERPRISE]["employeeNumber"] == "9001"
    assert got[ENTERPRISE]["department"] == "R&D"


def test_entra_email_value_path(scim, user):
    new = uniq("mail") + "@work.example"
    got = scim.patched("Users", user["id"], op("Replace", 'emails[type eq "work"].value', new))
    work = [e for e in got["emails"] if e["type"] == "work"]
    assert [e["value"] for e in work] == [new]
    assert work[0].get("primary") is True
    assert any(e["type"] == "home" for e in got["emails"])


def test_entra_add_value_path_creates_missing_element(scim):
    u = scim.create_user()
    addr = uniq("new") + "@work.example"
    got = scim.patched(
        "Users",
        u["id"],
        op("Add", 'emails[type eq "work"].value', addr),
        op("Add", 'phoneNumbers[type eq "mobile"].value', "+1 555 0199"),
    )
    assert {"type": "work", "value": addr} in [{k: e[k] for k in ("type", "value")} for e in got["emails"]]
    assert [p["value"] for p in got["phoneNumbers"] if p["type"] == "mobile"] == ["+1 555 0199"]


def test_replace_eq_value_path_without_match_creates_element(scim, user):
    """Documented decision (src patch module): a replace whose eq-only filter
    matches nothing creates the element it describes, like add."""
    got = scim.patched("Users", user["id"], op("Replace", 'emails[type eq "other"].value', "o@x.example"))
    assert {"type": "other", "value": "o@x.example"} in [{k: e[k] for k in ("type", "value")} for e in got["emails"]]
    assert len(got["emails"]) == 3


def test_entra_name_family_name_path(scim, user):
    got = scim.patched("Users", user["id"], op("Replace", "name.familyName", "NewFamily"))
    assert got["name"] == {"givenName": "Pat", "familyName": "NewFamily"}


def test_entra_manager_bare_string(scim, user):
    boss = scim.create_user()
    got = scim.patched("Users", user["id"], op("Add", f"{ENTERPRISE}:manager", boss["id"]))
    assert got[ENTERPRISE]["manager"]["value"] == boss["id"]
    got = scim.patched("Users", user["id"], op("Replace", f"{ENTERPRISE}:manager", {"value": user["id"]}))
    assert got[ENTERPRISE]["manager"]["value"] == user["id"]
    got = scim.patched("Users", user["id"], op("Remove", f"{ENTERPRISE}:manager"))
    assert "manager" not in got.get(ENTERPRISE, {})


def test_entra_enterprise_sub_attribute_path(scim, user):
    got = scim.patched("Users", user["id"], op("Replace", f"{ENTERPRISE}:department", "Sales"))
    assert got[ENTERPRISE]["department"] == "Sales"
    assert got[ENTERPRISE]["employeeNumber"] == "1"


# -- Users: Okta ---------------------------------------------------------------------------


def test_okta_deactivate_no_path(scim, user):
    got = scim.patched("Users", user["id"], op("replace", value={"active": False}))
    assert got["active"] is False
    # deactivation keeps the user readable and findable
    body = scim.list("Users", filter=f'userName eq "{user["userName"]}"')
    assert body["totalResults"] == 1 and body["Resources"][0]["active"] is False


def test_okta_reactivate_no_path(scim, user):
    scim.patched("Users", user["id"], op("replace", value={"active": False}))
    assert scim.patched("Users", user["id"], op("replace", value={"active": True}))["active"] is True


def test_okta_password_change(scim, user):
    got = scim.patched("Users", user["id"], op("replace", value={"password": "New-Secret-1"}))
    assert "password" not in got


# -- Users: errors ----------------------------------------------------------------------------


def test_patch_unknown_user_404(scim):
    assert_error(scim.patch_resource("Users", "00000000-0000-0000-0000-000000000000", op("replace", "displayName", "x")), 404)


def test_patch_stale_if_match_412(scim, user):
    r = scim.patch_resource("Users", user["id"], op("replace", "displayName", "x"), headers={"If-Match": 'W/"999"'})
    assert_error(r, 412)
    r = scim.patch_resource(
        "Users", user["id"], op("replace", "displayName", "y"), headers={"If-Match": user["meta"]["version"]}
    )
    assert r.status_code in (200, 204)


@pytest.mark.parametrize(
    "body,scim_type",
    [
        ({"schemas": [PATCH_OP]}, None),
        ({"schemas": [PATCH_OP], "Operations": "nope"}, None),
        ({"schemas": [PATCH_OP], "Operations": []}, None),
        (patch_body({"op": "frobnicate", "path": "displayName", "value": "x"}), None),
        (patch_body({"path": "displayName", "value": "x"}), None),
        (patch_body(op("replace", "displayName[", "x")), "invalidPath"),
        (patch_body(op("replace", "noSuchAttribute", "x")), "invalidPath"),
        (patch_body(op("remove")), "noTarget"),
        (patch_body(op("replace", 'emails[type co "pag"].value', "x@y.z")), "noTarget"),
        (patch_body(op("remove", 'emails[type eq "pager"]')), "noTarget"),
        (patch_body(op("replace", "active", "perhaps")), "invalidValue"),
        (patch_body(op("replace", "id", "new-id")), "mutability"),
        (patch_body(op("replace", "userName", None, has_value=True)), None),
        (patch_body(op("remove", "userName")), None),
        (patch_body(op("replace", "userName", "")), None),
    ],
)
def test_patch_invalid_requests_400(scim, user, body, scim_type):
    r = scim.patch(f"/Users/{user['id']}", body)
    assert_error(r, 400, scim_type)
    assert scim.read("Users", user["id"])["meta"]["version"] == user["meta"]["version"]


def test_patch_is_atomic(scim, user):
    r = scim.patch_resource(
        "Users", user["id"], op("replace", "displayName", "Applied?"), op("replace", "noSuchAttribute", "x")
    )
    assert_error(r, 400)
    got = scim.read("Users", user["id"])
    assert got["displayName"] == "Before"
    assert got["meta"]["version"] == user["meta"]["version"]


def test_patch_user_name_to_case_variant_of_other_409(scim, user):
    other = scim.create_user()
    r = scim.patch_resource("Users", user["id"], op("replace", "userName", other["userName"].upper()))
    assert_error(r, 409, "uniqueness")


def test_patch_invalid_json_400(scim, user):
    assert_error(scim.patch(f"/Users/{user['id']}", raw="{oops"), 400, "invalidSyntax")


# -- Groups ---------------------------------------------------------------------------------------


@pytest.fixture
def members(scim):
    return [scim.create_user()["id"] for _ in range(4)]


def group_patch(scim, gid, *ops):
    r = scim.patch_resource("Groups", gid, *ops)
    assert r.status_code in (200, 204), r.text
    return scim.member_ids(gid)


def test_entra_add_members_with_null_ref(scim, members):
    g = scim.create_group()
    got = group_patch(
        scim,
        g["id"],
        op("Add", "members", [{"$ref": None, "value": members[0]}, {"$ref": None, "value": members[1]}]),
    )
    assert got == {members[0], members[1]}


def test_entra_remove_member_legacy_value_form(scim, members):
    g = scim.create_group(members=members[:3])
    got = group_patch(scim, g["id"], op("Remove", "members", [{"value": members[1]}]))
    assert got == {members[0], members[2]}


def test_entra_remove_member_filter_form(scim, members):
    g = scim.create_group(members=members[:3])
    got = group_patch(scim, g["id"], op("remove", f'members[value eq "{members[0]}"]'))
    assert got == {members[1], members[2]}


def test_entra_replace_display_name(scim, members):
    g = scim.create_group(members=members[:2])
    new = uniq("renamed")
    group_patch(scim, g["id"], op("Replace", "displayName", new))
    got = scim.read("Groups", g["id"])
    assert got["displayName"] == new
    assert {m["value"] for m in got["members"]} == set(members[:2])


def test_okta_rename_no_path_with_id(scim, members):
    g = scim.create_group(members=members[:1])
    new = uniq("okta-renamed")
    group_patch(scim, g["id"], op("replace", value={"id": g["id"], "displayName": new}))
    got = scim.read("Groups", g["id"])
    assert got["displayName"] == new and got["id"] == g["id"]
    assert {m["value"] for m in got["members"]} == {members[0]}


def test_okta_remove_and_add_in_one_request(scim, members):
    g = scim.create_group(members=members[:2])
    got = group_patch(
        scim,
        g["id"],
        op("remove", f'members[value eq "{members[0]}"]'),
        op("add", "members", [{"value": members[2]}, {"value": members[3]}]),
    )
    assert got == {members[1], members[2], members[3]}


def test_okta_replace_members_full_list(scim, members):
    g = scim.create_group(members=members[:3])
    got = group_patch(scim, g["id"], op("replace", "members", [{"value": members[2]}, {"value": members[3]}]))
    assert got == {members[2], members[3]}


def test_remove_all_members(scim, members):
    g = scim.create_group(members=members)
    assert group_patch(scim, g["id"], op("remove", "members")) == set()


def test_add_existing_member_is_idempotent(scim, members):
    g = scim.create_group(members=members[:1])
    got = group_patch(scim, g["id"], op("add", "members", [{"value": members[0]}, {"value": members[1]}]))
    assert got == {members[0], members[1]}
    assert len(scim.read("Groups", g["id"])["members"]) == 2


def test_remove_non_member_is_harmless(scim, members):
    g = scim.create_group(members=members[:1])
    got = group_patch(scim, g["id"], op("Remove", "members", [{"value": members[3]}]))
    assert got == {members[0]}


def test_add_unknown_member_400_and_atomic(scim, members):
    g = scim.create_group(members=members[:1])
    r = scim.patch_resource(
        "Groups",
        g["id"],
        op("add", "members", [{"value": members[1]}]),
        op("add", "members", [{"value": "00000000-0000-0000-0000-00000000dead"}]),
    )
    assert_error(r, 400, "invalidValue")
    assert scim.member_ids(g["id"]) == {members[0]}


def test_member_patch_updates_user_groups(scim, members):
    g = scim.create_group()
    group_patch(scim, g["id"], op("add", "members", [{"value": members[0]}]))
    assert [x["value"] for x in scim.read("Users", members[0])["groups"]] == [g["id"]]
    group_patch(scim, g["id"], op("remove", f'members[value eq "{members[0]}"]'))
    assert scim.read("Users", members[0]).get("groups", []) == []


def test_group_patch_bumps_version_and_if_match(scim, members):
    g = scim.create_group()
    r = scim.patch_resource("Groups", g["id"], op("add", "members", [{"value": members[0]}]), headers={"If-Match": 'W/"999"'})
    assert_error(r, 412)
    assert scim.member_ids(g["id"]) == set()
    group_patch(scim, g["id"], op("add", "members", [{"value": members[0]}]))
    after = scim.read("Groups", g["id"])
    assert int(version_number(after["meta"]["version"])) > int(version_number(g["meta"]["version"]))


def test_group_patch_display_name_conflict_409(scim):
    a, b = scim.create_group(), scim.create_group()
    r = scim.patch_resource("Groups", b["id"], op("replace", "displayName", a["displayName"].upper()))
    assert_error(r, 409, "uniqueness")


def test_extension_urn_path_with_object_value(scim, user):
    got = scim.patched("Users", user["id"], op("add", ENTERPRISE, {"costCenter": "CC-7", "department": "Ops"}))
    assert got[ENTERPRISE]["costCenter"] == "CC-7"
    assert got[ENTERPRISE]["department"] == "Ops"
    assert got[ENTERPRISE]["employeeNumber"] == "1"


def test_extension_urn_path_value_with_schemas_key(scim, user):
    got = scim.patched(
        "Users", user["id"], op("replace", ENTERPRISE, {"schemas": [ENTERPRISE], "division": "North"})
    )
    assert got[ENTERPRISE]["division"] == "North"


def test_patch_primary_is_exclusive(scim, user):
    got = scim.patched(
        "Users", user["id"], op("add", "emails", [{"value": uniq("p") + "@other.example", "type": "other", "primary": True}])
    )
    primaries = [e for e in got["emails"] if e.get("primary")]
    assert len(primaries) == 1 and primaries[0]["type"] == "other"


def test_patch_remove_email_filter_is_case_insensitive(scim, user):
    home = [e["value"] for e in user["emails"] if e["type"] == "home"][0]
    got = scim.patched("Users", user["id"], op("remove", f'emails[value eq "{home.upper()}"]'))
    assert [e["type"] for e in got["emails"]] == ["work"]


def test_patch_updates_last_modified_not_created(scim, user):
    got = scim.patched("Users", user["id"], op("replace", "displayName", "ts"))
    assert got["meta"]["created"] == user["meta"]["created"]
    assert got["meta"]["lastModified"] > user["meta"]["lastModified"]


def test_patch_remove_members_or_filter(scim, members):
    g = scim.create_group(members=members)
    got = group_patch(scim, g["id"], op("remove", f'members[value eq "{members[0]}" or value eq "{members[2]}"]'))
    assert got == {members[1], members[3]}


def test_okta_replace_members_with_empty_list_clears(scim, members):
    g = scim.create_group(members=members[:2])
    assert group_patch(scim, g["id"], op("replace", "members", [])) == set()
