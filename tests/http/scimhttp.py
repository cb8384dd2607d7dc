"""Small helpers shared by the black-box SCIM tests (imported by the test
modules; pytest puts this directory on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterable

import requests

SCIM_CT = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RT_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"


def uniq(prefix: str = "t") -> str:
    """A name no other test (or earlier run on the same database) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class Scim:
    """A thin SCIM client: JSON in and out, `application/scim+json`, an
    optional bearer token. Returns `requests.Response` untouched so tests can
    assert on status, headers and body."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 60):
        self.base = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.http = requests.Session()

    def url(self, path: str) -> str:
        return self.base + (path if path.startswith("/") else "/" + path)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict | str | None = None,
        headers: dict | None = None,
        raw: str | bytes | None = None,
        auth: bool = True,
    ) -> requests.Response:
        h = {"Accept": SCIM_CT}
        if self.token and auth:
            h["Authorization"] = f"Bearer {self.token}"
        data = raw
        if body is not None:
            data = json.dumps(body)
        if data is not None:
            h["Content-Type"] = SCIM_CT
        h.update(headers or {})
        return self.http.request(
            method, self.url(path), data=data, params=params, headers=h, timeout=self.timeout
        )

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    # -- conveniences -----------------------------------------------------
    def create_user(self, user_name: str | None = None, **extra) -> dict:
        body = user_body(user_name or uniq("user"), **extra)
        r = self.post("/Users", body)
        assert r.status_code == 201, (r.status_code, r.text)
        return r.json()

    def create_group(self, display_name: str | None = None, members: Iterable[str] = (), **extra) -> dict:
        body = {
            "schemas": [GROUP_SCHEMA],
            "displayName": display_name or uniq("group"),
            **extra,
        }
        members = list(members)
        if members:
            body["members"] = [{"value": m} for m in members]
        r = self.post("/Groups", body)
        assert r.status_code == 201, (r.status_code, r.text)
        return r.json()

    def read(self, rt: str, rid: str, **params) -> dict:
        r = self.get(f"/{rt}/{rid}", params=params or None)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def member_ids(self, gid: str) -> set[str]:
        g = self.read("Groups", gid)
        return {m["value"] for m in g.get("members", [])}

    def list(self, rt: str, **params) -> dict:
        r = self.get(f"/{rt}", params=params)
        assert r.status_code == 200, (r.status_code, r.text)
        assert_scim_json(r)
        body = r.json()
        assert body["schemas"] == [LIST_RESPONSE], body
        return body

    def patch_resource(self, rt: str, rid: str, *ops: dict, headers=None) -> requests.Response:
        return self.patch(f"/{rt}/{rid}", patch_body(*ops), headers=headers)

    def patched(self, rt: str, rid: str, *ops: dict) -> dict:
        """Apply a PATCH that must succeed; return the resource afterwards
        (from the 200 body, or a GET after a 204)."""
        r = self.patch_resource(rt, rid, *ops)
        assert r.status_code in (200, 204), (r.status_code, r.text)
        if r.status_code == 200:
            assert_scim_json(r)
            return r.json()
        return self.read(rt, rid)


def user_body(user_name: str, **extra) -> dict:
    return {"schemas": [USER_SCHEMA], "userName": user_name, **extra}


FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "idp"


def recorded(name: str, **values: str) -> dict:
    """A recorded IdP request body (tests/fixtures/idp/<name>.json) with its
    `{{placeholders}}` filled in; a placeholder left unfilled is an error."""
    text = (FIXTURES / f"{name}.json").read_text()
    for key, value in values.items():
        text = text.replace("{{" + key + "}}", json.dumps(value)[1:-1])
    assert "{{" not in text, f"{name}: unfilled placeholder in {text}"
    return json.loads(text)


def patch_body(*ops: dict) -> dict:
    return {"schemas": [PATCH_OP], "Operations": list(ops)}


def op(kind: str, path: str | None = None, value: Any = None, *, has_value: bool | None = None) -> dict:
    o: dict = {"op": kind}
    if path is not None:
        o["path"] = path
    if value is not None or has_value:
        o["value"] = value
    return o


def assert_scim_json(r: requests.Response) -> None:
    ct = r.headers.get("Content-Type", "")
    assert ct.split(";")[0].strip().lower() == SCIM_CT, f"Content-Type {ct!r}"


def assert_error(r: requests.Response, status: int, scim_type: str | None = None) -> dict:
    """An RFC 7644 §3.12 error response."""
    assert r.status_code == status, (r.status_code, r.text[:2000])
    assert_scim_json(r)
    body = r.json()
    assert body["schemas"] == [ERROR_SCHEMA], body
    assert str(body["status"]) == str(status), body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body
    return body


def ids(list_response: dict) -> list[str]:
    return [r["id"] for r in list_response.get("Resources", [])]


def version_number(etag: str) -> str:
    return etag.removeprefix("W/").strip('"')


def run_parallel(fns):
    """Run the callables at once (released together by a barrier), one
    thread each; their results in order."""
    barrier = threading.Barrier(len(fns))

    def go(fn):
        barrier.wait()
        return fn()

    with ThreadPoolExecutor(len(fns)) as pool:
        return list(pool.map(go, fns))
