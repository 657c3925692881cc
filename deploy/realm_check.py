"""Checks keycloak/realm.json's `bff` client against docker-compose.yml.

Each check is a (name, function) pair; deploy/check.py runs them. The
settings are the ones bff's security depends on:
- PKCE S256 enforced (RFC 9700 §2.1.1; RFC 7636 §4.2),
- the exact redirect URI <BFF_PUBLIC_URL>/auth/callback, no wildcard
  (RFC 9700 §4.1.3),
- the post-logout URI bff sends (RP-Initiated Logout 1.0 §3),
- back-channel logout to /auth/backchannel-logout with `sid` required and
  front-channel logout off (Back-Channel Logout 1.0 §2.2, §2.4),
- refresh-token rotation with no reuse (RFC 9700 §4.14.2),
- the client secret equal to the one compose gives bff.
"""

import json
import pathlib

import yaml


def _load(root: pathlib.Path):
    realm = json.loads((root / "keycloak" / "realm.json").read_text())
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    clients = [c for c in realm["clients"] if c["clientId"] == "bff"]
    assert len(clients) == 1, "exactly one client `bff`"
    bff_services = {n: s for n, s in compose["services"].items() if n.startswith("bff")}
    assert bff_services, "compose has bff services"
    envs = [s["environment"] for s in bff_services.values()]
    # YAML anchors (x-bff) make every replica's environment the same.
    assert all(e == envs[0] for e in envs), "all bff replicas share one environment"
    # The profile's env file (BFF_PROFILE unset: standard) under the
    # environment, which wins over it as in compose.
    env = {**_env_file(root, bff_services, "standard"), **envs[0]}
    return realm, clients[0], env


def _env_file(root: pathlib.Path, services, profile: str):
    files = {s.get("env_file") for s in services.values()}
    assert len(files) == 1, "all bff replicas share one env_file"
    path = files.pop().replace("${BFF_PROFILE:-standard}", profile)
    env = {}
    for line in (root / path).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def check_fapi_client(root: pathlib.Path):
    """The `bff-fapi` client and the fapi2 env file agree (BFF_PROFILE=fapi2)."""
    realm = json.loads((root / "keycloak" / "realm.json").read_text())
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    services = {n: s for n, s in compose["services"].items() if n.startswith("bff")}
    env = {**_env_file(root, services, "fapi2"), **next(iter(services.values()))["environment"]}
    clients = [c for c in realm["clients"] if c["clientId"] == env["BFF_CLIENT_ID"]]
    assert len(clients) == 1, f"one client {env['BFF_CLIENT_ID']}"
    client = clients[0]
    attrs = client["attributes"]
    assert env["BFF_SECURITY_PROFILE"] == "fapi2" and "BFF_CLIENT_SECRET" not in env
    assert client["clientAuthenticatorType"] == "client-jwt", "private_key_jwt"
    assert attrs["require.pushed.authorization.requests"] == "true", "PAR required"
    assert attrs["dpop.bound.access.tokens"] == "true", "DPoP-bound tokens"
    assert attrs["pkce.code.challenge.method"] == "S256"
    assert attrs["id.token.signed.response.alg"] in ("PS256", "ES256")
    assert attrs["use.jwks.url"] == "true" and attrs["jwks.url"].endswith(":9091/client-jwks.json")
    assert client["redirectUris"] == [env["BFF_PUBLIC_URL"].rstrip("/") + "/auth/callback"]
    key = root / "demo" / pathlib.Path(env["BFF_CLIENT_KEY_FILE"]).name
    assert "BEGIN PRIVATE KEY" in key.read_text(), f"{key} holds the demo client key"


def check_realm(root: pathlib.Path):
    state = {}

    def loaded():
        state["realm"], state["client"], state["env"] = _load(root)

    def attrs():
        return state["client"]["attributes"]

    def public_url():
        return state["env"]["BFF_PUBLIC_URL"].rstrip("/")

    def confidential_standard_flow():
        c = state["client"]
        assert c["publicClient"] is False and c["clientAuthenticatorType"] == "client-secret"
        assert c["standardFlowEnabled"] is True
        assert c["implicitFlowEnabled"] is False and c["directAccessGrantsEnabled"] is False

    def pkce_s256():
        assert attrs()["pkce.code.challenge.method"] == "S256"

    def exact_redirect_uri():
        uris = state["client"]["redirectUris"]
        assert uris == [public_url() + "/auth/callback"], f"redirectUris {uris}"
        assert not any("*" in u for u in uris), "no wildcards"

    def post_logout_uri():
        expected = state["env"].get("BFF_POST_LOGOUT_REDIRECT", public_url() + "/auth/logged-out")
        assert attrs()["post.logout.redirect.uris"] == expected
        assert "*" not in expected and "+" != expected

    def backchannel_logout():
        url = attrs()["backchannel.logout.url"]
        assert url.endswith("/auth/backchannel-logout"), url
        assert attrs()["backchannel.logout.session.required"] == "true"

    def frontchannel_off():
        assert state["client"]["frontchannelLogout"] is False

    def refresh_rotation():
        realm = state["realm"]
        assert realm["revokeRefreshToken"] is True and realm["refreshTokenMaxReuse"] == 0
        assert attrs().get("use.refresh.tokens", "true") == "true"

    def iss_in_auth_response():
        # RFC 9207: bff checks `iss` when discovery advertises it.
        assert attrs().get("exclude.issuer.from.auth.response", "false") == "false"

    def same_client_secret():
        assert state["client"]["secret"] == state["env"]["BFF_CLIENT_SECRET"]
        assert state["env"]["BFF_CLIENT_ID"] == state["client"]["clientId"]

    def issuer_matches_realm():
        assert state["env"]["BFF_ISSUER_URL"].rstrip("/").endswith("/realms/" + state["realm"]["realm"])

    return [
        ("realm.json and compose load; one client `bff`", loaded),
        ("confidential client, standard flow only", confidential_standard_flow),
        ("PKCE S256 required", pkce_s256),
        ("exact redirect URI = BFF_PUBLIC_URL + /auth/callback", exact_redirect_uri),
        ("post-logout redirect URI", post_logout_uri),
        ("back-channel logout URL, session required", backchannel_logout),
        ("front-channel logout off", frontchannel_off),
        ("refresh tokens rotate, reuse 0", refresh_rotation),
        ("iss in authorization responses (RFC 9207)", iss_in_auth_response),
        ("client secret and id equal compose's", same_client_secret),
        ("issuer URL names the realm", issuer_matches_realm),
        ("FAPI 2.0 client bff-fapi matches BFF_PROFILE=fapi2", lambda: check_fapi_client(root)),
    ]
