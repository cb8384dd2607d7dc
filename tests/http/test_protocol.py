"""Protocol edges: /Me, wrong methods, unknown paths, oversized bodies,
error bodies that stay readable."""

import json

import pytest

from scimhttp import USER_SCHEMA, assert_error, uniq, user_body


def test_me_is_501(scim):
    # README: /Me is not implemented (tokens identify a tenant, not a user).
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        assert_error(scim.request(method, "/Me"), 501)


def test_me_requires_auth(anon):
    r = anon.get("/Me")
    assert r.status_code in (401, 501), r.text


@pytest.mark.parametrize(
    "method,path",
    [
        ("PUT", "/Users"),
        ("PATCH", "/Users"),
        ("DELETE", "/Users"),
        ("PUT", "/Groups"),
        ("DELETE", "/Groups"),
        ("POST", "/Users/00000000-0000-0000-0000-000000000000"),
        ("GET", "/Bulk"),
        ("DELETE", "/Bulk"),
        ("PUT", "/Users/.search"),
    ],
)
def test_wrong_method_405(scim, method, path):
    r = scim.request(method, path, {"schemas": [USER_SCHEMA], "userName": "x"})
    assert_error(r, 405)


@pytest.mark.parametrize("method,path", [("PUT", "/Users"), ("DELETE", "/Groups"), ("POST", "/Users/abc")])
def test_405_detail_is_readable(scim, method, path):
    """The error detail is a sentence for humans, not an internal dump."""
    body = assert_error(scim.request(method, path, {"userName": "x"}), 405)
    assert len(body["detail"]) < 300, body["detail"][:300]
    assert "ResourceTypeDef" not in body["detail"] and "RESOURCETYPEDEF" not in body["detail"]


def test_unsupported_http_method(scim):
    r = scim.request("TRACE", "/Users")
    assert r.status_code in (405, 501), r.status_code


@pytest.mark.parametrize(
    "path",
    ["/Widgets", "/Users/abc/def", "/Bulk/x", "/Schemas/a/b", "/", "/ResourceTypes/User/extra"],
)
def test_unknown_path_404(scim, path):
    assert_error(scim.get(path), 404)


def test_outside_base_path_404(scim):
    base = scim.base.rsplit("/scim/v2", 1)[0]
    r = scim.http.get(base + "/scim/v3/Users", headers={"Authorization": f"Bearer {scim.token}"})
    assert r.status_code == 404


def test_paths_are_case_insensitive(scim):
    u = scim.create_user()
    assert scim.get(f"/users/{u['id']}").status_code == 200
    assert scim.get("/serviceproviderconfig").status_code == 200


def test_trailing_slash(scim):
    u = scim.create_user()
    r = scim.get(f"/Users/{u['id']}/")
    assert r.status_code == 200, r.text


def test_oversized_body_413(scim):
    spc = scim.get("/ServiceProviderConfig").json()
    limit = spc["bulk"]["maxPayloadSize"]
    name = uniq("huge")
    for size in (limit + 10, 2 * limit, 8 * limit):
        raw = json.dumps(user_body(name, displayName="x" * size))
        r = scim.post("/Users", raw=raw)
        assert r.status_code == 413, (size, r.status_code, r.text[:300])
        assert r.headers.get("Content-Type", "").startswith("application/scim+json")
        assert r.json()["status"] in ("413", 413)
    assert scim.list("Users", filter=f'userName eq "{name}"')["totalResults"] == 0


def test_oversized_put_and_patch_413(scim):
    u = scim.create_user()
    big = "y" * (2 * 1024 * 1024)
    assert scim.put(f"/Users/{u['id']}", user_body(u["userName"], displayName=big)).status_code == 413
    r = scim.patch(f"/Users/{u['id']}", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                                         "Operations": [{"op": "replace", "path": "displayName", "value": big}]})
    assert r.status_code == 413
    assert scim.read("Users", u["id"])["meta"]["version"] == u["meta"]["version"]


def test_non_utf8_and_nul_bodies_400(scim):
    assert_error(scim.post("/Users", raw=b'{"userName": "\xff\xfe"}'), 400)
    assert_error(scim.post("/Users", raw='{"userName": "a\u0000b"}'.encode()), 400)


def test_escaped_nul_in_json_400(scim):
    r = scim.post("/Users", raw='{"userName": "nul\\u0000byte"}')
    assert_error(r, 400)


def test_unicode_user_name_round_trips(scim):
    name = uniq("ünï-çødé-名前")
    u = scim.create_user(name)
    assert scim.read("Users", u["id"])["userName"] == name
    body = scim.list("Users", filter=f'userName eq "{name.upper()}"')
    assert [r["id"] for r in body["Resources"]] == [u["id"]]


def test_deeply_nested_json_rejected_cleanly(scim):
    raw = '{"userName": "deep", "x": ' + "[" * 5000 + "]" * 5000 + "}"
    r = scim.post("/Users", raw=raw)
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])


def test_huge_filter_rejected_cleanly(scim):
    f = " or ".join(f'userName eq "{i}"' for i in range(5000))
    r = scim.post("/Users/.search", {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": f})
    assert r.status_code in (200, 400), (r.status_code, r.text[:300])
    if r.status_code == 400:
        assert_error(r, 400, "invalidFilter")


def test_deeply_nested_filter_rejected_cleanly(scim):
    f = "(" * 500 + 'userName eq "x"' + ")" * 500
    assert_error(scim.get("/Users", params={"filter": f}), 400, "invalidFilter")


def test_errors_are_scim_json(scim, anon):
    for r in (
        anon.get("/Users"),
        scim.get("/Users/00000000-0000-0000-0000-000000000000"),
        scim.get("/Nope"),
        scim.post("/Users", raw="{"),
    ):
        assert r.headers["Content-Type"].startswith("application/scim+json"), r.headers
        assert r.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


def test_oversized_chunked_body_413(scim):
    def chunks():
        piece = b"x" * 65536
        yield b'{"userName": "chunked", "displayName": "'
        for _ in range(40):
            yield piece
        yield b'"}'

    r = scim.http.post(scim.url("/Users"), data=chunks(),
                       headers={"Authorization": f"Bearer {scim.token}", "Content-Type": "application/scim+json"})
    assert r.status_code == 413, (r.status_code, r.text[:200])


def test_unknown_query_parameters_ignored(scim):
    u = scim.create_user()
    r = scim.get(f"/Users/{u['id']}", params={"foo": "bar", "tenant": "other"})
    assert r.status_code == 200
