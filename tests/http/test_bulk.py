"""Bulk (RFC 7644 §3.7): bulkId references, failOnErrors, limits."""

import json

import pytest

from scimhttp import (
    BULK_REQUEST,
    BULK_RESPONSE,
    GROUP_SCHEMA,
    USER_SCHEMA,
    assert_error,
    assert_scim_json,
    op,
    patch_body,
    uniq,
)


def bulk(*ops, fail_on_errors=None):
    body = {"schemas": [BULK_REQUEST], "Operations": list(ops)}
    if fail_on_errors is not None:
        body["failOnErrors"] = fail_on_errors
    return body


def post_user(bulk_id, name=None, **extra):
    return {
        "method": "POST",
        "path": "/Users",
        "bulkId": bulk_id,
        "data": {"schemas": [USER_SCHEMA], "userName": name or uniq("bulk"), **extra},
    }


def run(scim, body):
    r = scim.post("/Bulk", body)
    assert r.status_code == 200, r.text
    assert_scim_json(r)
    out = r.json()
    assert out["schemas"] == [BULK_RESPONSE]
    return out["Operations"]


def by_bulk_id(results):
    return {o["bulkId"]: o for o in results if "bulkId" in o}


def id_of(result):
    return result["location"].rstrip("/").rsplit("/", 1)[-1]


def test_bulk_creates_users_and_group_referencing_them(scim):
    """The group comes first in the request and refers to users created
    later in the same request."""
    names = [uniq("bu") for _ in range(3)]
    gname = uniq("bulk-group")
    body = bulk(
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "grp",
            "data": {
                "schemas": [GROUP_SCHEMA],
                "displayName": gname,
                "members": [{"value": f"bulkId:u{i}", "type": "User"} for i in range(3)],
            },
        },
        *[post_user(f"u{i}", names[i]) for i in range(3)],
    )
    results = run(scim, body)
    assert len(results) == 4
    res = by_bulk_id(results)
    for i in range(3):
        r = res[f"u{i}"]
        assert str(r["status"]) == "201", r
        assert r["method"] == "POST"
        assert r["location"].endswith("/Users/" + id_of(r))
        assert r["version"].startswith('W/"')
        assert scim.read("Users", id_of(r))["userName"] == names[i]
    g = res["grp"]
    assert str(g["status"]) == "201", g
    group = scim.read("Groups", id_of(g))
    assert group["displayName"] == gname
    assert {m["value"] for m in group["members"]} == {id_of(res[f"u{i}"]) for i in range(3)}


def test_bulk_put_patch_delete_with_paths_and_versions(scim):
    a, b, c = scim.create_user(), scim.create_user(), scim.create_user()
    body = bulk(
        {"method": "PUT", "path": f"/Users/{a['id']}", "version": a["meta"]["version"],
         "data": {"schemas": [USER_SCHEMA], "userName": a["userName"], "displayName": "put-by-bulk"}},
        {"method": "PATCH", "path": f"/Users/{b['id']}", "data": patch_body(op("replace", "displayName", "patched-by-bulk"))},
        {"method": "DELETE", "path": f"/Users/{c['id']}"},
    )
    results = run(scim, body)
    assert [str(r["status"]) for r in results] in (["200", "200", "204"], ["200", "204", "204"])
    assert [r["method"] for r in results] == ["PUT", "PATCH", "DELETE"]
    assert scim.read("Users", a["id"])["displayName"] == "put-by-bulk"
    assert scim.read("Users", b["id"])["displayName"] == "patched-by-bulk"
    assert_error(scim.get(f"/Users/{c['id']}"), 404)


def test_bulk_version_mismatch_412_in_operation(scim):
    a = scim.create_user()
    body = bulk({"method": "DELETE", "path": f"/Users/{a['id']}", "version": 'W/"999"'})
    (r,) = run(scim, body)
    assert str(r["status"]) == "412"
    assert scim.read("Users", a["id"])["id"] == a["id"]


def test_bulk_patch_group_by_bulk_id_path(scim):
    body = bulk(
        post_user("u"),
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": uniq("bg")}},
        {"method": "PATCH", "path": "/Groups/bulkId:g",
         "data": patch_body(op("add", "members", [{"value": "bulkId:u"}]))},
    )
    results = run(scim, body)
    assert all(str(r["status"]).startswith("2") for r in results), results
    res = by_bulk_id(results)
    assert scim.member_ids(id_of(res["g"])) == {id_of(res["u"])}


def test_bulk_errors_reported_per_operation_and_others_applied(scim):
    dup = scim.create_user()
    ok_name = uniq("bulk-ok")
    results = run(scim, bulk(post_user("dup", dup["userName"].upper()), post_user("ok", ok_name)))
    res = by_bulk_id(results)
    assert str(res["dup"]["status"]) == "409"
    err = res["dup"]["response"]
    assert err["scimType"] == "uniqueness"
    assert "location" not in res["dup"] or not res["dup"]["location"]
    assert str(res["ok"]["status"]) == "201"
    assert scim.list("Users", filter=f'userName eq "{ok_name}"')["totalResults"] == 1


def test_bulk_fail_on_errors_stops_processing(scim):
    dup = scim.create_user()
    later = [uniq("never") for _ in range(2)]
    body = bulk(
        post_user("first", uniq("first")),
        post_user("bad", dup["userName"]),
        post_user("l0", later[0]),
        post_user("l1", later[1]),
        fail_on_errors=1,
    )
    results = run(scim, body)
    res = by_bulk_id(results)
    assert str(res["first"]["status"]) == "201"
    assert str(res["bad"]["status"]) == "409"
    assert "l0" not in res and "l1" not in res
    for n in later:
        assert scim.list("Users", filter=f'userName eq "{n}"')["totalResults"] == 0


def test_bulk_fail_on_errors_two(scim):
    dup = scim.create_user()
    body = bulk(
        post_user("b1", dup["userName"]),
        post_user("ok", uniq("ok")),
        post_user("b2", dup["userName"].upper()),
        post_user("never", uniq("never")),
        fail_on_errors=2,
    )
    res = by_bulk_id(run(scim, body))
    assert [str(res[k]["status"]) for k in ("b1", "ok", "b2")] == ["409", "201", "409"]
    assert "never" not in res


def test_bulk_reference_to_failed_or_unknown_bulk_id(scim):
    dup = scim.create_user()
    gname = uniq("orphan")
    body = bulk(
        post_user("bad", dup["userName"]),
        {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {"displayName": gname, "members": [{"value": "bulkId:bad"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "g2", "data": {"displayName": uniq("orphan"), "members": [{"value": "bulkId:nowhere"}]}},
    )
    res = by_bulk_id(run(scim, body))
    assert str(res["g1"]["status"]).startswith("4")
    assert str(res["g2"]["status"]).startswith("4")
    assert scim.list("Groups", filter=f'displayName eq "{gname}"')["totalResults"] == 0


def test_bulk_circular_reference_fails_cleanly(scim):
    body = bulk(
        {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {"displayName": uniq("circ"), "members": [{"value": "bulkId:b"}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"displayName": uniq("circ"), "members": [{"value": "bulkId:a"}]}},
    )
    res = by_bulk_id(run(scim, body))
    assert str(res["a"]["status"]) == "409" and str(res["b"]["status"]) == "409"


@pytest.mark.parametrize(
    "body",
    [
        {"Operations": []},
        {"schemas": [BULK_REQUEST]},
        {"schemas": [BULK_REQUEST], "Operations": [{"method": "POST", "path": "/Users", "data": {"userName": "x"}}]},
        {"schemas": [BULK_REQUEST], "Operations": [{"method": "GET", "path": "/Users"}]},
        {"schemas": [BULK_REQUEST], "Operations": [{"method": "PUT", "path": "/Users/x"}]},
        {"schemas": [BULK_REQUEST], "Operations": [post_user("same"), post_user("same")]},
        {"schemas": [BULK_REQUEST], "failOnErrors": 0, "Operations": [post_user("x")]},
    ],
)
def test_bulk_malformed_request_400(scim, body):
    assert_error(scim.post("/Bulk", body), 400)


def test_bulk_invalid_json_400(scim):
    assert_error(scim.post("/Bulk", raw="{"), 400, "invalidSyntax")


def test_bulk_nested_bulk_rejected(scim):
    inner = bulk(post_user("inner", uniq("nested")))
    for path in ("/Bulk", "Bulk", "//bulk"):
        (r,) = run(scim, bulk({"method": "POST", "path": path, "bulkId": "n", "data": inner}))
        assert str(r["status"]).startswith("4"), (path, r)


def test_bulk_nested_bulk_percent_encoded_rejected(scim):
    name = uniq("nested-enc")
    inner = bulk(post_user("inner", name))
    (r,) = run(scim, bulk({"method": "POST", "path": "/%42ulk", "bulkId": "n", "data": inner}))
    assert str(r["status"]).startswith("4"), r
    assert scim.list("Users", filter=f'userName eq "{name}"')["totalResults"] == 0


def test_bulk_max_operations_413(scim):
    spc = scim.get("/ServiceProviderConfig").json()
    n = spc["bulk"]["maxOperations"] + 1
    ops = [{"method": "DELETE", "path": f"/Users/{i}"} for i in range(n)]
    assert_error(scim.post("/Bulk", bulk(*ops)), 413)


def test_bulk_max_payload_size_413(scim):
    spc = scim.get("/ServiceProviderConfig").json()
    limit = spc["bulk"]["maxPayloadSize"]
    name = uniq("toolarge")
    op_ = post_user("big", name, displayName="x" * (limit + 1024))
    raw = json.dumps(bulk(op_))
    assert limit < len(raw) < limit + 4096
    assert_error(scim.post("/Bulk", raw=raw), 413)
    assert scim.list("Users", filter=f'userName eq "{name}"')["totalResults"] == 0


def test_bulk_just_under_max_payload_accepted(scim):
    spc = scim.get("/ServiceProviderConfig").json()
    limit = spc["bulk"]["maxPayloadSize"]
    name = uniq("justfits")
    skeleton = json.dumps(bulk(post_user("fits", name, title="")))
    raw = json.dumps(bulk(post_user("fits", name, title="y" * (limit - len(skeleton) - 16))))
    assert len(raw) <= limit
    (r,) = scim_post_raw(scim, raw)
    assert str(r["status"]) == "201", str(r)[:500]


def scim_post_raw(scim, raw):
    r = scim.post("/Bulk", raw=raw)
    assert r.status_code == 200, r.text[:1000]
    return r.json()["Operations"]


def test_bulk_many_operations(scim):
    names = [uniq("many") for _ in range(100)]
    results = run(scim, bulk(*[post_user(f"m{i}", n) for i, n in enumerate(names)]))
    assert [str(r["status"]) for r in results] == ["201"] * 100


def test_bulk_put_and_delete_by_bulk_id_path(scim):
    name = uniq("bput")
    body = bulk(
        post_user("u", name),
        {"method": "PUT", "path": "/Users/bulkId:u", "data": {"userName": name, "displayName": "after put"}},
    )
    results = run(scim, body)
    assert [str(r["status"]) for r in results] == ["201", "200"], results
    uid = id_of(results[0])
    assert scim.read("Users", uid)["displayName"] == "after put"
    (r,) = run(scim, bulk({"method": "DELETE", "path": f"/Users/{uid}"}))
    assert str(r["status"]) == "204"


def test_bulk_id_reference_in_manager(scim):
    ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    body = bulk(
        {"method": "POST", "path": "/Users", "bulkId": "report",
         "data": {"userName": uniq("report"), ent: {"manager": {"value": "bulkId:boss"}}}},
        post_user("boss"),
    )
    res = by_bulk_id(run(scim, body))
    assert str(res["report"]["status"]) == "201" and str(res["boss"]["status"]) == "201"
    got = scim.read("Users", id_of(res["report"]))
    assert got[ent]["manager"]["value"] == id_of(res["boss"])
