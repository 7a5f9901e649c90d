#!/usr/bin/env python3
"""token_server.py - a small token server for the registry tests: the `auth: token` flow of the
CNCF distribution registry (docker's token authentication).

GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=...] with `Authorization: Basic
USER:PASS` answers {"token": JWT, "access_token": JWT}: a JWT signed RS256 (by openssl) with
KEY, carrying CERT in its x5c header (the registry trusts CERT through its rootcertbundle) and
granting every action asked for.  Without credentials the token grants nothing (the registry
then answers 401); wrong credentials get 401 here.  One line per request on stdout, never the
password.

usage: token_server.py PORTFILE KEY CERT USER PASS ISSUER
(binds 127.0.0.1 on a free port and writes the port to PORTFILE once listening)"""
import base64
import http.server
import json
import os
import subprocess
import sys
import time
import urllib.parse

PORTFILE, KEY, CERT, USER, PASS, ISSUER = sys.argv[1:7]


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def cert_der_b64():
    with open(CERT) as f:
        body = "".join(l.strip() for l in f if l.strip() and not l.startswith("-----"))
    return body  # the PEM body is the standard base64 of the DER, as x5c wants


def make_token(service, sub, access):
    now = int(time.time())
    header = {"typ": "JWT", "alg": "RS256", "x5c": [cert_der_b64()]}
    claims = {"iss": ISSUER, "sub": sub, "aud": service, "exp": now + 600, "nbf": now - 30,
              "iat": now, "jti": os.urandom(8).hex(), "access": access}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode())).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=signing_input,
                         capture_output=True, check=True).stdout
    return signing_input.decode() + "." + b64url(sig)


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(url.query)
        user = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
            except Exception:
                u, p = "", None
            if u != USER or p != PASS:
                print("token 401 user=%s scopes=%s" % (u, q.get("scope", [])), flush=True)
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
                return
            user = u
        access = []
        if user is not None:
            for s in q.get("scope", []):
                for one in s.split(" "):
                    typ, _, rest = one.partition(":")
                    name, _, actions = rest.rpartition(":")
                    if typ and name:
                        access.append({"type": typ, "name": name, "actions": actions.split(",")})
        print("token 200 user=%s scopes=%s" % (user or "-", q.get("scope", [])), flush=True)
        tok = make_token(q.get("service", [""])[0], user or "", access)
        body = json.dumps({"token": tok, "access_token": tok, "expires_in": 600}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
