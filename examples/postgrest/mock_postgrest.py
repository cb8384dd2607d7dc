#!/usr/bin/env python3
"""Stand-in for PostgREST in check_nginx.sh (not for production).

Enforces what PostgREST enforces for `POST /rpc/scim_postgrest` with a single
unnamed jsonb parameter (POST only, Content-Type application/json, no
Authorization without a JWT secret, no empty body) and answers like the
wrapper would: the status and headers it sets, and as body a JSON echo of
what arrived. `GET /ready` stands for the admin server.

Usage: mock_postgrest.py PORT
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="application/json; charset=utf-8", extra=()):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        for name, value in extra:
            self.send_header(name, value)
        # PostgREST computes Content-Length from the rendered body; its HTTP
        # server (warp) then sends no body bytes for 204/304.
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if status not in (204, 304):
            self.wfile.write(data)

    def do_GET(self):
        if self.path == "/ready":
            return self.reply(200, "")
        self.reply(405, '{"code":"mock: only POST expected"}')

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        if self.path != "/rpc/scim_postgrest":
            return self.reply(404, json.dumps({"code": "PGRST125", "path": self.path}))
        if self.headers.get("Content-Type") != "application/json":
            return self.reply(415, '{"code":"PGRST107"}')
        if self.headers.get("Accept") not in (None, "*/*", "application/json"):
            return self.reply(406, '{"code":"PGRST107"}')
        if self.headers.get("Authorization"):
            return self.reply(500, '{"code":"PGRST300"}')
        if body == "":
            return self.reply(400, '{"code":"22P02","message":"invalid input syntax for type json"}')
        headers = {k.lower(): v for k, v in self.headers.items()}
        scim = "application/scim+json"
        path = headers.get("x-scim-path")
        if path == "/Users/gone":
            # PostgREST renders a NULL jsonb result as `null`.
            return self.reply(204, "null", scim)
        if path == "/Users/missing":
            return self.reply(404, '{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],'
                                   '"status":"404","detail":"from the function"}', scim)
        echo = {"method": self.command, "uri": self.path, "headers": headers, "body": body}
        self.reply(201, json.dumps(echo), scim,
                   [("Location", "https://scim.example.com/scim/v2/Users/1"), ("ETag", 'W/"1"')])


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
