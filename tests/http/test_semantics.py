"""Filter and PATCH semantics fixed by issue 13 §3: `ne` is `not (eq)`
(absent attributes and multi-valued ones included), and a group PATCH
answers 200 with the projected resource when the request asks for a
projection."""

from scimhttp import ids, op, uniq


def test_ne_matches_absent_and_multi_valued(new_tenant):
    scim = new_tenant("ne").client
    titled = scim.create_user(title="Boss", emails=[{"value": "a@x.com"}, {"value": "b@x.com"}])
    bare = scim.create_user()
    other = scim.create_user(title="Clerk", emails=[{"value": "c@x.com"}])
    everyone = {titled["id"], bare["id"], other["id"]}

    assert set(ids(scim.list("Users", filter='title ne "boss"'))) == {bare["id"], other["id"]}
    # `not (ne)` is `eq` again: only the Boss
    assert ids(scim.list("Users", filter='not (title ne "boss")')) == [titled["id"]]
    # multi-valued: no email equals a@x.com (users without emails included)
    assert set(ids(scim.list("Users", filter='emails.value ne "A@x.com"'))) == {bare["id"], other["id"]}
    assert set(ids(scim.list("Users", filter='emails.value ne "zzz@x.com"'))) == everyone
    # eq on an absent attribute stays false
    assert ids(scim.list("Users", filter='title eq "nobody"')) == []


def test_group_patch_answers_204_or_200_with_projection(scim):
    u = scim.create_user()
    g = scim.create_group()
    add = op("add", "members", [{"value": u["id"]}])
    r = scim.patch_resource("Groups", g["id"], add)
    assert r.status_code == 204, r.text
    assert r.content == b""

    r = scim.patch(f"/Groups/{g['id']}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                          "Operations": [op("replace", "displayName", uniq("renamed"))]},
                   params={"excludedAttributes": "members"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == g["id"] and body["displayName"].startswith("renamed")
    assert "members" not in body

    r = scim.patch(f"/Groups/{g['id']}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                          "Operations": [op("replace", "externalId", "x1")]},
                   params={"attributes": "members,externalId"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["externalId"] == "x1"
    assert [m["value"] for m in body["members"]] == [u["id"]]
    assert "displayName" not in body
