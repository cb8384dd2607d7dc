#!/usr/bin/env bash
# Self-check of nginx.conf: runs nginx (plain HTTP on loopback, certificates
# and ports swapped) in front of mock_postgrest.py and checks the mapping.
# Skips (exit 0) when nginx or python3 is not installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
command -v nginx >/dev/null && command -v python3 >/dev/null || {
    echo "check_nginx: SKIPPED (nginx or python3 not installed)"; exit 0; }

work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
NGX=$(free_port); API=$(free_port); ADMIN=$(free_port)

sed -e "s/listen 443 ssl;/listen 127.0.0.1:$NGX;/" -e '/listen \[::\]:443 ssl;/d' -e '/ssl_certificate/d' \
    -e "s/127.0.0.1:3000;/127.0.0.1:$API;/" -e "s#127.0.0.1:3001/#127.0.0.1:$ADMIN/#" \
    "$here/nginx.conf" > "$work/scim.conf"
mkdir -p "$work/logs"
cat > "$work/nginx.conf" <<CONF
daemon off;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events {}
http {
  access_log off;
  client_body_temp_path $work/body;
  proxy_temp_path $work/proxy;
  include $work/scim.conf;
}
CONF
nginx -t -q -p "$work" -c "$work/nginx.conf"
python3 "$here/mock_postgrest.py" "$API" & pids+=($!)
python3 "$here/mock_postgrest.py" "$ADMIN" & pids+=($!)
nginx -p "$work" -c "$work/nginx.conf" & pids+=($!)

NGX=$NGX PORTS="$NGX $API $ADMIN" python3 - <<'PY'
import http.client, json, os, time

port = int(os.environ["NGX"])
for p in os.environ["PORTS"].split():
    for _ in range(100):
        try:
            http.client.HTTPConnection("127.0.0.1", int(p), timeout=1).connect(); break
        except OSError:
            time.sleep(0.1)

passed = failed = 0
def check(name, cond, info=""):
    global passed, failed
    if cond: passed += 1
    else:
        failed += 1; print(f"FAIL {name}: {info}")

def req(method, path, body=None, headers=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data

def echo(method, path, body=None, headers=None):
    status, h, data = req(method, path, body, headers)
    check(f"{method} {path} status", status == 201, (status, data[:200]))
    return json.loads(data), h

SCIM_ERR = ["urn:ietf:params:scim:api:messages:2.0:Error"]

e, h = echo("POST", "/scim/v2/Users?filter=userName%20eq%20%22x%22&count=2", '{"userName":"a b"}',
            {"Content-Type": "application/scim+json", "Accept": "application/scim+json",
             "Authorization": "Bearer tok", "If-Match": 'W/"3"', "Prefer": "tx=rollback",
             "X-Scim-Path": "/injected"})
eh = e["headers"]
check("upstream method", e["method"] == "POST")
check("upstream uri", e["uri"] == "/rpc/scim_postgrest", e["uri"])
check("x-scim-method", eh.get("x-scim-method") == "POST")
check("x-scim-path", eh.get("x-scim-path") == "/Users", eh.get("x-scim-path"))
check("x-scim-query", eh.get("x-scim-query") == "filter=userName%20eq%20%22x%22&count=2")
check("x-scim-authorization", eh.get("x-scim-authorization") == "Bearer tok")
check("authorization cleared", "authorization" not in eh)
check("prefer cleared", "prefer" not in eh)
check("if-match kept", eh.get("if-match") == 'W/"3"')
check("content-type forced", eh.get("content-type") == "application/json")
check("body untouched", e["body"] == '{"userName":"a b"}')
check("response content-type", h.get("content-type") == "application/scim+json", h)
check("response location", h.get("location") == "https://scim.example.com/scim/v2/Users/1")
check("response etag", h.get("etag") == 'W/"1"')

for method, path, want_path, want_query in [
        ("GET", "/scim/v2", "/", None), ("GET", "/scim/v2/", "/", None),
        ("GET", "/scim/v2?x=1", "/", "x=1"), ("GET", "/scim/v2/Users/a%2Fb?count=2", "/Users/a%2Fb", "count=2"),
        ("DELETE", "/scim/v2/Groups/g", "/Groups/g", None)]:
    e, _ = echo(method, path)
    check(f"{path} path", e["headers"].get("x-scim-path") == want_path, e["headers"])
    check(f"{path} query", e["headers"].get("x-scim-query") == want_query, e["headers"])
    check(f"{path} method", e["headers"].get("x-scim-method") == method)
    check(f"{path} empty body becomes {{}}", e["body"] == "{}", e["body"])

e, _ = echo("POST", "/scim/v2/Users", "", {"Content-Length": "0"})
check("empty POST becomes {}", e["body"] == "{}")

status, h, data = req("DELETE", "/scim/v2/Users/gone")
check("204 no body", status == 204 and data == b"", (status, data))

status, h, data = req("GET", "/scim/v2/Users/missing")
check("function 404 passes through", status == 404 and b"from the function" in data, (status, data))

status, h, data = req("HEAD", "/scim/v2/Users")
check("HEAD", status == 201 and data == b"" and h.get("etag") == 'W/"1"', (status, h))

for path in ["/", "/scim", "/scim/v2x", "/scim/v1/Users", "/x/../scim/v2/Users"]:
    status, h, data = req("GET", path)
    check(f"404 {path}", status == 404 and json.loads(data)["schemas"] == SCIM_ERR
          and h.get("content-type") == "application/scim+json", (status, data))

status, h, data = req("POST", "/scim/v2/Users", "x" * 1_200_000)
check("413", status == 413 and json.loads(data)["status"] == "413", (status, data[:200]))

status, h, data = req("GET", "/healthz")
check("healthz", status == 200, status)

print(f"check_nginx: {passed} passed, {failed} failed")
raise SystemExit(1 if failed else 0)
PY
