"""Full provisioning sequences as Entra ID and Okta run them
(shared/design/IDP-REQUESTS.md): create → lookup by filter → patch →
deactivate → group create → member add/remove → delete. Request bodies are
the recorded ones in tests/fixtures/idp/ (also read by the Rust PATCH
tests)."""

import uuid

from scimhttp import (
    ENTERPRISE,
    USER_SCHEMA,
    assert_error,
    recorded,
    uniq,
)


def one(body):
    assert body["totalResults"] == 1, body
    return body["Resources"][0]


def test_entra_provisioning_sequence(scim):
    # "Test connection": a random non-existent user
    body = scim.list("Users", filter=f'userName eq "{uuid.uuid4()}"')
    assert body["totalResults"] == 0

    upn = uniq("Entra.User") + "@contoso.example"
    object_id = str(uuid.uuid4())
    assert scim.list("Users", filter=f'userName eq "{upn}"')["totalResults"] == 0
    r = scim.post("/Users", recorded("entra/create_user", userName=upn, externalId=object_id))
    assert r.status_code == 201, r.text
    uid = r.json()["id"]

    # matching by either attribute, case-variant userName
    assert one(scim.list("Users", filter=f'userName eq "{upn.upper()}"'))["id"] == uid
    assert one(scim.list("Users", filter=f'externalId eq "{object_id}"'))["id"] == uid

    manager = scim.create_user()
    new_mail = uniq("renamed") + "@contoso.example"
    r = scim.patch(f"/Users/{uid}", recorded("entra/patch_user_attributes", newMail=new_mail, manager=manager["id"]))
    assert r.status_code == 200, r.text
    got = scim.read("Users", uid)
    assert got["displayName"] == "Entra Renamed"
    assert got["name"]["familyName"] == "Renamed" and got["name"]["givenName"] == "Ent"
    assert [e["value"] for e in got["emails"] if e["type"] == "work"] == [new_mail]
    assert got[ENTERPRISE]["manager"]["value"] == manager["id"]
    assert got[ENTERPRISE]["employeeNumber"] == "2000"

    # deactivate with a string boolean: the user stays readable
    r = scim.patch(f"/Users/{uid}", recorded("entra/patch_user_deactivate"))
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False
    assert one(scim.list("Users", filter=f'externalId eq "{object_id}"'))["active"] is False

    # group: lookup without members, create, add several, remove (both forms)
    gname = uniq("Entra Group")
    assert scim.list("Groups", excludedAttributes="members", filter=f'displayName eq "{gname}"')["totalResults"] == 0
    r = scim.post("/Groups", recorded("entra/create_group", displayName=gname, externalId=str(uuid.uuid4())))
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    other = scim.create_user()
    r = scim.patch(f"/Groups/{gid}", recorded("entra/patch_group_add_members", member1=uid, member2=other["id"]))
    assert r.status_code == 204, r.text
    assert scim.member_ids(gid) == {uid, other["id"]}
    found = one(scim.list("Groups", excludedAttributes="members", filter=f'displayName eq "{gname}"'))
    assert found["id"] == gid and "members" not in found

    r = scim.patch(f"/Groups/{gid}", recorded("entra/patch_group_remove_member", member=other["id"]))
    assert r.status_code == 204, r.text
    assert scim.member_ids(gid) == {uid}
    r = scim.patch(f"/Groups/{gid}", recorded("entra/patch_group_remove_member_filter", member=uid))
    assert r.status_code == 204, r.text
    assert scim.member_ids(gid) == set()

    r = scim.patch(f"/Groups/{gid}", recorded("entra/patch_group_add_members", member1=uid, member2=uid))
    assert r.status_code == 204, r.text
    # hard delete
    assert scim.delete(f"/Users/{uid}").status_code == 204
    assert_error(scim.get(f"/Users/{uid}"), 404)
    assert scim.list("Users", filter=f'externalId eq "{object_id}"')["totalResults"] == 0
    assert scim.member_ids(gid) == set()
    assert scim.delete(f"/Groups/{gid}").status_code == 204


def test_okta_provisioning_sequence(scim):
    # "Test connection"
    r = scim.get("/Users", params={"count": 2, "startIndex": 1})
    assert r.status_code == 200, r.text
    assert len(r.json().get("Resources", [])) <= 2

    login = uniq("okta.user") + "@example.com"
    lookup = {"filter": f'userName eq "{login}"', "startIndex": 1, "count": 100}
    assert scim.list("Users", **lookup)["totalResults"] == 0
    r = scim.post("/Users", recorded("okta/create_user", userName=login, externalId=uniq("00u")))
    assert r.status_code == 201, r.text
    created = r.json()
    uid = created["id"]
    assert "password" not in created

    # re-provision attempt: duplicate → 409 with the SCIM error schema
    assert_error(scim.post("/Users", {"schemas": [USER_SCHEMA], "userName": login.upper()}), 409, "uniqueness")
    assert one(scim.list("Users", **(lookup | {"filter": f'userName eq "{login.upper()}"'})))["id"] == uid

    # profile update: full PUT including meta
    full = scim.read("Users", uid)
    full["name"]["familyName"] = "Updated"
    full["title"] = "Director"
    r = scim.put(f"/Users/{uid}", full)
    assert r.status_code == 200, r.text
    assert r.json()["name"]["familyName"] == "Updated" and r.json()["title"] == "Director"

    # deactivate with a no-path replace; still readable
    r = scim.patch(f"/Users/{uid}", recorded("okta/patch_user_deactivate"))
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False and scim.read("Users", uid)["active"] is False
    # reactivate with a full PUT (some app types)
    full = scim.read("Users", uid)
    full["active"] = True
    assert scim.put(f"/Users/{uid}", full).json()["active"] is True

    # group push
    others = [scim.create_user()["id"] for _ in range(3)]
    gname = uniq("Okta Group")
    r = scim.post("/Groups", recorded("okta/create_group", displayName=gname, member=uid, memberDisplay=login))
    assert r.status_code == 201, r.text
    gid = r.json()["id"]
    assert one(scim.list("Groups", filter=f'displayName eq "{gname}"', startIndex=1, count=100))["id"] == gid

    new_name = uniq("Okta Renamed")
    r = scim.patch(f"/Groups/{gid}", recorded("okta/patch_group_rename", group=gid, displayName=new_name))
    assert r.status_code == 204, r.text
    assert scim.read("Groups", gid)["displayName"] == new_name

    r = scim.patch(
        f"/Groups/{gid}",
        recorded(
            "okta/patch_group_remove_and_add_members",
            remove=uid, add1=others[0], add1Display="o0", add2=others[1], add2Display="o1",
        ),
    )
    assert r.status_code == 204, r.text
    assert scim.member_ids(gid) == {others[0], others[1]}

    r = scim.patch(f"/Groups/{gid}", recorded("okta/patch_group_replace_members", member1=uid, member2=others[2]))
    assert r.status_code == 204, r.text
    assert scim.member_ids(gid) == {uid, others[2]}

    # Okta deletes groups (never users)
    assert scim.delete(f"/Groups/{gid}").status_code == 204
    assert scim.read("Users", uid).get("groups", []) == []
