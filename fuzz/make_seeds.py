#!/usr/bin/env python3
"""Writes the seed corpora under corpus/<target>/seed-* (run from fuzz/).

Signed logout tokens are made with the test keys in keys/ through the
openssl command line, with the targets' fixed "now"."""

import base64
import json
import os
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ISSUER = "https://idp.example.test/realms/fuzz"
CLIENT = "bff-fuzz"
NOW = 1_750_000_000
EVENT = "http://schemas.openid.net/event/backchannel-logout"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def write(target: str, seeds: dict) -> None:
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    for name, data in seeds.items():
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(folder, f"seed-{name}"), "wb") as f:
            f.write(data)


def sign(key: str, alg: str, message: bytes) -> bytes:
    with tempfile.NamedTemporaryFile() as msg:
        msg.write(message)
        msg.flush()
        path = os.path.join(HERE, "keys", key)
        if alg == "EdDSA":
            cmd = ["openssl", "pkeyutl", "-sign", "-inkey", path, "-rawin", "-in", msg.name]
        else:
            cmd = ["openssl", "dgst", "-sha256", "-sign", path, msg.name]
        return subprocess.check_output(cmd)


def claims(**changes) -> dict:
    base = {
        "iss": ISSUER,
        "aud": CLIENT,
        "iat": NOW,
        "exp": NOW + 120,
        "jti": "jti-1",
        "events": {EVENT: {}},
        "sub": "user-1",
        "sid": "sid-1",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def jws(header: dict, payload: dict, key: str = "ed25519.pem") -> str:
    head = b64(json.dumps(header, separators=(",", ":")).encode())
    body = b64(json.dumps(payload, separators=(",", ":")).encode())
    signature = sign(key, header.get("alg", "EdDSA"), f"{head}.{body}".encode())
    return f"{head}.{body}.{b64(signature)}"


ED = {"alg": "EdDSA", "kid": "fuzz-ed", "typ": "logout+jwt"}
RS = {"alg": "RS256", "kid": "fuzz-rsa", "typ": "JWT"}

write("cookie", {
    "mixed": "theme=dark; __Host-bff=abc; __Host-bff-login=x\nlang=en",
    "duplicate": "__Host-bff=one\n__Host-bff=two",
    "odd-pieces": 'a=1;; b = 2 ;c="q;x"; =noname; novalue; d=e=f',
    "session": "__Host-bff=DokXAZpGGcanFM21FzVXHquPf42cB559y1Y289nWuzo",
    "tabs": "\t__Host-bff-login\t=\tv\t;x=1",
})

write("path", {
    "api": "/api/users?id=1\napp.example.test",
    "absolute-form": "http://169.254.169.254//api/%61/x?q=1\napp.example.test",
    "params": "/admin;x/secret\napp.example.test",
    "traversal": "/api/v2/../admin/\napp.example.test",
    "extra-routes": "/static/x/%7Euser\napp.example.test\n/static/x!\n-",
    "encoded": "/a/b/c/..%3Bx/d?x=%2F\napp.example.test:8443\n/a/!",
})

write("return_to", {
    "root": "/",
    "query": "/app/page?x=1&y=%2F",
    "fragment": "/a#frag",
    "protocol-relative": "//evil.example",
    "backslash": "/%5Cevil.example",
    "unicode": "/caf\u00e9/\u2028x",
})

write("logout_token", {
    "ed25519": jws(ED, claims()),
    "rs256-sid-only": jws(RS, claims(sub=None, aud=[CLIENT, "other"]), "rsa-2048.pem"),
    "expired": jws(ED, claims(exp=NOW - 3600)),
    "alg-none": b64(b'{"alg":"none"}') + "." + b64(json.dumps(claims()).encode()) + ".",
    "hs256": b64(b'{"alg":"HS256","kid":"fuzz-rsa"}') + "." + b64(json.dumps(claims()).encode()) + ".AAAA",
})


def signed(selector: int, header, payload) -> bytes:
    head = b"" if header is None else json.dumps(header, separators=(",", ":")).encode() + b"\n"
    return bytes([selector]) + head + json.dumps(payload, separators=(",", ":")).encode()


write("logout_token_signed", {
    "ed25519": signed(0, ED, claims()),
    "rs256-default-header": signed(1, None, claims(sid=None)),
    "aud-array-no-kid": signed(0, {"alg": "EdDSA"}, claims(aud=["x", CLIENT])),
    "with-nonce": signed(0, ED, claims(nonce="n-1")),
    "wrong-typ": signed(1, dict(RS, typ="at+jwt"), claims()),
    "unpublished": signed(3, ED, claims()),
})

NONCE = bytes(12)
write("sealed", {
    "raw-envelope": b"\x00\x01\x02k1" + NONCE + bytes(range(40)),
    "unknown-key": b"\x00\x01\x02k3" + NONCE + bytes(range(20)),
    "own-secret-aad": b"\x01\x04abcd\x03aad\x01\x02k2" + NONCE + bytes(range(17)),
    "tamper": b"\x02\x06tokens" + b"\x00\x00\x10\x01" + b"\x03\x00\x00\x00",
    "untouched": b"\x02\x0bhello world",
    "record": b"\x03" + (7).to_bytes(8, "big") + b"\x01\x02k1" + NONCE + bytes(range(30)),
    "vault": b"\x04\x06user-1\x07" + b"\x00\x00\x03\x80",
    "vault-other-id": b"\x04\x06user-2\x00" + b"\x03\x00\x00\x00",
})

BASE = f'''public_url = "https://app.example.test"
issuer_url = "{ISSUER}"
client_id = "bff"
client_secret = "s3cret-value-for-the-fuzzer-0001"
'''
write("config", {
    "minimal": BASE + 'upstream = "http://127.0.0.1:3000"\n',
    "routes": BASE + '''
[[routes]]
prefix = "/api/"
upstream = "http://api.internal:8080/base"
strip_prefix = true
methods = ["get", "POST"]
timeout = "5s"
max_body = "1MiB"

[[routes]]
prefix = "/ws"
upstream = "https://ws.internal"
auth = "optional"
websocket = true
''',
    "insecure": BASE.replace("https://app", "http://app") + '''insecure_dev_cookies = true
cookie_name = "bff_dev"
upstream = "http://localhost:5173"
allowed_origins = "http://localhost:5173, https://other.example.test:8443"
trusted_proxies = "10.0.0.0/8,::1"
''',
    "everything": BASE + '''listen = "0.0.0.0:8080"
admin_listen = "127.0.0.1:9091"
scopes = "profile email"
redis_url = "rediss://redis.internal:6380/0"
session_keys = "k1:jkyPXDJUYLCdDa3VMzP+v5oaafa3P/t5vas18xd0TnA=,k2:yFQpQH8hXfB/q+DtQy1zo3Ytjw14VNZMIAcs+MpvM2E="
session_ttl = "8h"
session_idle_timeout = "30m"
admin_token = "an-admin-token-of-at-least-32-characters"
refresh_skew = "60s"
refresh_wait = "10s"
provider_timeout = "10s"
refresh_lock_lease = "15s"
post_logout_redirect = "https://app.example.test/bye"
csrf_header = "X-CSRF"
log_format = "pretty"
client_idle_timeout = "10s"
ws_session_check = "5s"
workers = "2"
upstream = "http://default.internal"

[[routes]]
prefix = "/static"
upstream = "http://static.internal/assets/"
auth = "none"
''',
    "auth-route": BASE + '''
[[routes]]
prefix = "/auth/x"
upstream = "http://up"
''',
})
