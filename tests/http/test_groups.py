"""Groups: CRUD and membership (RFC 7643 §4.2, RFC 7644 §3.3–3.6)."""

import pytest

from scimhttp import GROUP_SCHEMA, assert_error, assert_scim_json, uniq, user_body, version_number


def group_body(name, members=()):
    body = {"schemas": [GROUP_SCHEMA], "displayName": name}
    if members:
        body["members"] = [{"value": m} for m in members]
    return body


def test_create_group_with_members(scim):
    u1, u2 = scim.create_user(displayName="One"), scim.create_user(displayName="Two")
    name = uniq("grp")
    r = scim.post("/Groups", group_body(name, [u1["id"], u2["id"]]))
    assert r.status_code == 201, r.text
    assert_scim_json(r)
    g = r.json()
    assert g["displayName"] == name
    assert g["schemas"] == [GROUP_SCHEMA]
    assert g["meta"]["resourceType"] == "Group"
    assert r.headers["ETag"] == g["meta"]["version"]
    assert r.headers["Location"].endswith(f"/Groups/{g['id']}")
    members = {m["value"]: m for m in g["members"]}
    assert set(members) == {u1["id"], u2["id"]}
    m1 = members[u1["id"]]
    assert m1["type"] == "User"
    assert m1["$ref"].endswith(f"/Users/{u1['id']}")
    assert "display" not in m1  # returned only on request
    shown = scim.get(f"/Groups/{g['id']}", params={"attributes": "members.display,members.value"}).json()
    assert {m["value"]: m["display"] for m in shown["members"]}[u1["id"]] == "One"


def test_create_group_without_members(scim):
    g = scim.create_group()
    assert g.get("members", []) == []
    assert scim.member_ids(g["id"]) == set()


def test_group_display_name_required(scim):
    assert_error(scim.post("/Groups", {"schemas": [GROUP_SCHEMA]}), 400)
    assert_error(scim.post("/Groups", {"schemas": [GROUP_SCHEMA], "displayName": 7}), 400)


def test_group_display_name_unique_case_insensitive(scim):
    name = uniq("GrpDup")
    scim.create_group(name)
    assert_error(scim.post("/Groups", group_body(name.upper())), 409, "uniqueness")


def test_nonexistent_member_rejected_and_nothing_created(scim, sql):
    name = uniq("badmember")
    u = scim.create_user()
    r = scim.post("/Groups", group_body(name, [u["id"], "00000000-0000-0000-0000-00000000beef"]))
    assert_error(r, 400, "invalidValue")
    assert sql("SELECT count(*) FROM scim.groups WHERE display_name = %s", (name,))[0][0] == 0
    assert scim.read("Users", u["id"]).get("groups", []) == []


def test_duplicate_members_collapse(scim):
    u = scim.create_user()
    r = scim.post("/Groups", group_body(uniq("dupm"), [u["id"], u["id"]]))
    assert r.status_code == 201, r.text
    assert [m["value"] for m in r.json()["members"]] == [u["id"]]


def test_nested_group_member(scim):
    inner = scim.create_group()
    outer = scim.create_group(members=[inner["id"]])
    (m,) = outer["members"]
    assert m["value"] == inner["id"]
    assert m["type"] == "Group"
    assert m["$ref"].endswith(f"/Groups/{inner['id']}")


def test_user_groups_attribute_reflects_membership(scim):
    u = scim.create_user()
    g1 = scim.create_group(members=[u["id"]])
    g2 = scim.create_group(members=[u["id"]])
    groups = {x["value"]: x for x in scim.read("Users", u["id"])["groups"]}
    assert set(groups) == {g1["id"], g2["id"]}
    assert groups[g1["id"]]["display"] == g1["displayName"]
    assert groups[g1["id"]]["$ref"].endswith(f"/Groups/{g1['id']}")
    assert scim.delete(f"/Groups/{g1['id']}").status_code == 204
    assert {x["value"] for x in scim.read("Users", u["id"])["groups"]} == {g2["id"]}


def test_user_groups_is_read_only(scim):
    """groups on a User is readOnly: membership changes go through the Group."""
    g = scim.create_group()
    r = scim.post("/Users", {"userName": uniq("ro"), "groups": [{"value": g["id"]}]})
    if r.status_code == 201:
        assert scim.member_ids(g["id"]) == set()
    else:
        assert_error(r, 400)


def test_get_group_excluded_members(scim):
    u = scim.create_user()
    g = scim.create_group(members=[u["id"]])
    got = scim.read("Groups", g["id"], excludedAttributes="members")
    assert "members" not in got
    assert got["displayName"] == g["displayName"]
    got = scim.read("Groups", g["id"], attributes="displayName")
    assert "members" not in got and got["id"] == g["id"]
    got = scim.read("Groups", g["id"], attributes="members.value")
    assert got["members"] == [{"value": u["id"]}]


def test_put_group_replaces_membership(scim):
    a, b, c = (scim.create_user() for _ in range(3))
    g = scim.create_group(members=[a["id"], b["id"]])
    r = scim.put(f"/Groups/{g['id']}", group_body(g["displayName"] + "-renamed", [b["id"], c["id"]]))
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["displayName"] == g["displayName"] + "-renamed"
    assert {m["value"] for m in got["members"]} == {b["id"], c["id"]}
    assert scim.member_ids(g["id"]) == {b["id"], c["id"]}
    assert int(version_number(got["meta"]["version"])) > int(version_number(g["meta"]["version"]))
    assert [x["value"] for x in scim.read("Users", a["id"]).get("groups", [])] == []


def test_put_group_without_members_clears_them(scim):
    u = scim.create_user()
    g = scim.create_group(members=[u["id"]])
    r = scim.put(f"/Groups/{g['id']}", group_body(g["displayName"]))
    assert r.status_code == 200, r.text
    assert scim.member_ids(g["id"]) == set()


def test_put_group_bad_member_rolls_back(scim):
    u = scim.create_user()
    g = scim.create_group(members=[u["id"]])
    r = scim.put(f"/Groups/{g['id']}", group_body("renamed-" + uniq("x"), ["nope"]))
    assert_error(r, 400, "invalidValue")
    got = scim.read("Groups", g["id"])
    assert got["displayName"] == g["displayName"]
    assert {m["value"] for m in got["members"]} == {u["id"]}
    assert got["meta"]["version"] == g["meta"]["version"]


def test_group_if_match(scim):
    g = scim.create_group()
    stale = 'W/"999"'
    assert_error(scim.put(f"/Groups/{g['id']}", group_body(g["displayName"]), headers={"If-Match": stale}), 412)
    assert_error(scim.delete(f"/Groups/{g['id']}", headers={"If-Match": stale}), 412)
    r = scim.get(f"/Groups/{g['id']}", headers={"If-None-Match": g["meta"]["version"]})
    assert r.status_code == 304
    assert scim.delete(f"/Groups/{g['id']}", headers={"If-Match": g["meta"]["version"]}).status_code == 204


def test_delete_group_404_after(scim):
    g = scim.create_group()
    assert scim.delete(f"/Groups/{g['id']}").status_code == 204
    assert_error(scim.get(f"/Groups/{g['id']}"), 404)
    assert_error(scim.delete(f"/Groups/{g['id']}"), 404)


def test_deleting_member_group_removes_nested_membership(scim):
    inner = scim.create_group()
    outer = scim.create_group(members=[inner["id"]])
    assert scim.delete(f"/Groups/{inner['id']}").status_code == 204
    assert scim.member_ids(outer["id"]) == set()


def test_large_group_create(scim):
    users = [scim.create_user()["id"] for _ in range(200)]
    r = scim.post("/Groups", group_body(uniq("big"), users))
    assert r.status_code == 201, r.text
    assert scim.member_ids(r.json()["id"]) == set(users)


def test_group_cannot_contain_itself(scim):
    g = scim.create_group()
    r = scim.patch(f"/Groups/{g['id']}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                           "Operations": [{"op": "add", "path": "members", "value": [{"value": g["id"]}]}]})
    assert_error(r, 400, "invalidValue")
    assert scim.member_ids(g["id"]) == set()


def test_group_cycle_does_not_break_reads(scim):
    """A 2-cycle (A ∈ B, B ∈ A) is accepted and harmless for reads (policy
    walks stop at groups already seen)."""
    u = scim.create_user()
    a = scim.create_group(members=[u["id"]])
    b = scim.create_group(members=[a["id"]])
    r = scim.patch(f"/Groups/{a['id']}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                           "Operations": [{"op": "add", "path": "members", "value": [{"value": b["id"]}]}]})
    assert r.status_code == 204, r.text
    assert scim.member_ids(b["id"]) == {a["id"]}
    assert scim.member_ids(a["id"]) == {u["id"], b["id"]}
    assert {x["value"] for x in scim.read("Users", u["id"])["groups"]} == {a["id"]}
    found = scim.list("Groups", filter=f'members.value eq "{b["id"]}"')
    assert [g["id"] for g in found["Resources"]] == [a["id"]]


def test_member_patch_cost_independent_of_group_size(scim):
    """Adding/removing one member is a delta: a 3000-member group costs about
    what an empty one does (generous bound, shared CPUs)."""
    import time

    from scimhttp import BULK_REQUEST

    ids_ = []
    for _ in range(3):
        ops = [{"method": "POST", "path": "/Users", "bulkId": f"u{i}", "data": {"userName": uniq("bigm")}} for i in range(1000)]
        r = scim.post("/Bulk", {"schemas": [BULK_REQUEST], "Operations": ops})
        assert r.status_code == 200
        ids_ += [o["location"].rsplit("/", 1)[-1] for o in r.json()["Operations"]]
    big = scim.create_group()
    r = scim.patch(f"/Groups/{big['id']}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                             "Operations": [{"op": "add", "path": "members", "value": [{"value": i} for i in ids_[1:]]}]})
    assert r.status_code in (200, 204)
    small = scim.create_group()

    def cost(gid):
        best = []
        for _ in range(5):
            t0 = time.perf_counter()
            a = scim.patch(f"/Groups/{gid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                              "Operations": [{"op": "Add", "path": "members", "value": [{"value": ids_[0]}]}]})
            b = scim.patch(f"/Groups/{gid}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                              "Operations": [{"op": "remove", "path": f'members[value eq "{ids_[0]}"]'}]})
            best.append(time.perf_counter() - t0)
            assert a.status_code in (200, 204) and b.status_code in (200, 204)
        return sorted(best)[len(best) // 2]

    small_cost, big_cost = cost(small["id"]), cost(big["id"])
    assert big_cost < 5 * small_cost + 0.1, (small_cost, big_cost)
    assert len(scim.member_ids(big["id"])) == 2999


def test_group_etag_changes_when_a_member_is_deleted(scim):
    u1, u2 = scim.create_user(), scim.create_user()
    g = scim.create_group(members=[u1["id"], u2["id"]])
    tag = scim.get(f"/Groups/{g['id']}").headers["ETag"]
    assert scim.delete(f"/Users/{u2['id']}").status_code == 204
    r = scim.get(f"/Groups/{g['id']}", headers={"If-None-Match": tag})
    assert r.status_code == 200
    assert {m["value"] for m in r.json()["members"]} == {u1["id"]}


def test_user_etag_changes_when_group_membership_changes(scim):
    u = scim.create_user()
    tag = scim.get(f"/Users/{u['id']}").headers["ETag"]
    g = scim.create_group(members=[u["id"]])
    r = scim.get(f"/Users/{u['id']}", headers={"If-None-Match": tag})
    assert r.status_code == 200, "304 although groups changed"
    assert [x["value"] for x in r.json()["groups"]] == [g["id"]]


@pytest.mark.xfail(
    strict=True,
    reason="known limit (README): a Group's ETag does not change when a member is renamed; "
    "members[].display (returned only on request) can be stale behind If-None-Match",
)
def test_group_etag_changes_when_member_display_changes(scim):
    u = scim.create_user(displayName="Before Rename")
    g = scim.create_group(members=[u["id"]])
    tag = scim.get(f"/Groups/{g['id']}", params={"attributes": "members.display"}).headers["ETag"]
    assert scim.put(f"/Users/{u['id']}", user_body(u["userName"], displayName="After Rename")).status_code == 200
    r = scim.get(f"/Groups/{g['id']}", params={"attributes": "members.display"}, headers={"If-None-Match": tag})
    assert r.status_code == 200, "304 although members[].display changed"


def test_member_display_is_returned_only_on_request(scim):
    u = scim.create_user(displayName="Shown On Request")
    g = scim.create_group(members=[u["id"]])
    assert "display" not in scim.read("Groups", g["id"])["members"][0]
    r = scim.get(f"/Groups/{g['id']}", params={"attributes": "members.display"})
    assert r.json()["members"] == [{"display": "Shown On Request"}]
