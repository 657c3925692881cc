#!/usr/bin/env python3
"""Demo upstream for the bff docker-compose stack (Python standard library only).

  GET /              -> the demo SPA (demo/spa/index.html)
  GET /healthz       -> {"status": "ok"} (container health check; no auth)
  ANY /api/whoami    -> claims of the bearer access token that bff injected
  ANY /api/*         -> 401 JSON without a bearer token, 404 JSON otherwise

THIS IS A DEMO. It decodes the JWT payload WITHOUT verifying it. A real API
must verify the access token: signature against the issuer's JWKS
(<issuer>/protocol/openid-connect/certs for Keycloak), `iss`, `aud`
(it should contain the API's audience), `exp`/`nbf`, and the algorithm.
It is only safe here because the container is reachable solely through bff
on the compose network (no published port).

Environment: DEMO_API_HOST (default 0.0.0.0), DEMO_API_PORT (default 8000).
"""

import base64
import binascii
import json
import os
import signal
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

SPA_INDEX = Path(__file__).resolve().parent / "spa" / "index.html"
MAX_BODY = 1 << 20  # requests with a larger body are refused


def decode_jwt_payload(token):
    """Return the JWT payload as a dict, or None. DEMO: no signature check."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1]
    payload += "=" * (-len(payload) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        return None
    return claims if isinstance(claims, dict) else None


class Handler(BaseHTTPRequestHandler):
    server_version = "bff-demo-api/1"
    protocol_version = "HTTP/1.1"

    # --- helpers ---------------------------------------------------------

    def _send(self, status, body, content_type, extra_headers=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (extra_headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status, obj, extra_headers=None):
        body = json.dumps(obj, indent=2, sort_keys=True).encode("utf-8") + b"\n"
        self._send(status, body, "application/json", extra_headers)

    def _drain_body(self):
        """Read (and discard) a request body so keep-alive connections stay in sync."""
        length = self.headers.get("Content-Length")
        if length is None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                # Not worth supporting in a demo: refuse and close.
                self.close_connection = True
                return False
            return True
        try:
            n = int(length)
        except ValueError:
            self.close_connection = True
            return False
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            return False
        remaining = n
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 65536))
            if not chunk:
                break
            remaining -= len(chunk)
        return True

    def _bearer_token(self):
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()

    # --- routing ---------------------------------------------------------

    def _handle(self):
        if not self._drain_body():
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "bad_request_body"})
            return
        path = urlsplit(self.path).path

        if path == "/healthz":
            self._json(HTTPStatus.OK, {"status": "ok"})
            return

        if path == "/api" or path.startswith("/api/"):
            self._api(path)
            return

        if path in ("/", "/index.html") and self.command in ("GET", "HEAD"):
            try:
                body = SPA_INDEX.read_bytes()
            except OSError:
                self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "spa_missing"})
                return
            self._send(
                HTTPStatus.OK,
                body,
                "text/html; charset=utf-8",
                {
                    # The SPA has inline script/style and no external assets.
                    "Content-Security-Policy": (
                        "default-src 'none'; script-src 'unsafe-inline'; img-src data:; "
                        "style-src 'unsafe-inline'; connect-src 'self'; "
                        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
                    ),
                    "Referrer-Policy": "no-referrer",
                },
            )
            return

        if path in ("/", "/index.html"):
            self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "method_not_allowed"}, {"Allow": "GET, HEAD"})
            return

        self._json(HTTPStatus.NOT_FOUND, {"error": "not_found", "path": path})

    def _api(self, path):
        token = self._bearer_token()
        if token is None:
            self._json(
                HTTPStatus.UNAUTHORIZED,
                {"error": "unauthenticated", "detail": "missing bearer token"},
                {"WWW-Authenticate": 'Bearer realm="demo-api"'},
            )
            return
        # DEMO ONLY: decoded, not verified (see the module docstring).
        claims = decode_jwt_payload(token)
        if claims is None:
            self._json(
                HTTPStatus.UNAUTHORIZED,
                {"error": "invalid_token", "detail": "bearer token is not a JWT"},
                {"WWW-Authenticate": 'Bearer realm="demo-api", error="invalid_token"'},
            )
            return
        if path != "/api/whoami":
            self._json(HTTPStatus.NOT_FOUND, {"error": "not_found", "path": path})
            return
        self._json(
            HTTPStatus.OK,
            {
                "sub": claims.get("sub"),
                "preferred_username": claims.get("preferred_username"),
                "name": claims.get("name"),
                "email": claims.get("email"),
                "iss": claims.get("iss"),
                "aud": claims.get("aud"),
                "exp": claims.get("exp"),
                "method": self.command,
                "path": path,
            },
        )

    do_GET = _handle
    do_HEAD = _handle
    do_POST = _handle
    do_PUT = _handle
    do_PATCH = _handle
    do_DELETE = _handle
    do_OPTIONS = _handle

    def log_message(self, fmt, *args):
        # One line per request on stderr; never log the Authorization header.
        sys.stderr.write("demo-api %s - %s\n" % (self.address_string(), fmt % args))


def main():
    host = os.environ.get("DEMO_API_HOST", "0.0.0.0")
    port = int(os.environ.get("DEMO_API_PORT", "8000"))
    httpd = ThreadingHTTPServer((host, port), Handler)
    httpd.daemon_threads = True
    # PID 1 in a container ignores SIGTERM unless a handler is installed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.stderr.write("demo-api listening on http://%s:%d\n" % (host, port))
    try:
        httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        httpd.server_close()


if __name__ == "__main__":
    main()
