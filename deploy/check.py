"""Offline checks of the deployment files (run through deploy/check.sh).

1. Every YAML file under deploy/ and docker-compose.yml parses.
2. Each kustomization (base, overlays/*) renders with `kubectl kustomize`
   and every rendered object validates strictly against the Kubernetes
   OpenAPI schemas bundled in the kubernetes-validate package.
3. Policy: the rendered Deployment has what the issue and the design ask
   for (3 replicas, probes on the admin port, restricted security context,
   secrets as files, resources, ...), plus PDB, Service and routes ConfigMap.
4. `docker compose config -q` (or standalone `docker-compose`) when either exists.
5. keycloak/realm.json's client matches what bff needs and what compose
   configures (PKCE S256, exact redirect URI, post-logout URI, back-channel
   logout with session required, no front-channel logout, refresh token
   rotation, same client secret).
6. bff itself accepts the configuration the overlay produces
   (`bff --check-config`), when a built binary exists.
7. Alerts and dashboard: `promtool check rules` and `promtool test rules`
   on deploy/prometheus/; every alert has `for`, a severity and a summary
   and description; deploy/grafana/bff-dashboard.json parses, has the
   data-source, job and instance variables, every panel target has an expr
   that promtool parses and filters by job and instance; and every bff_*
   name in them is one bff exports (the Rust test
   `deployed_dashboard_and_alerts_query_only_exported_metrics`, which
   starts a real bff and reads its /metrics; needs cargo).
Prints "N passed, N failed" last; exits 1 on any failure.
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib

import kubernetes_validate
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
# Oldest version the manifests target: preStop `sleep` is on by default
# from 1.30; newest: what kubernetes-validate bundles.
K8S_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
ADMIN_PORT = 9091
ALERTS = ROOT / "deploy" / "prometheus" / "bff-alerts.yml"
ALERT_TESTS = ROOT / "deploy" / "prometheus" / "bff-alerts.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "bff-dashboard.json"
METRICS_TEST = "deployed_dashboard_and_alerts_query_only_exported_metrics"

results = {"passed": 0, "failed": 0, "skipped": 0}


def check(name, fn):
    """Runs one named check; an AssertionError or exception fails it."""
    try:
        outcome = fn()
    except Exception as err:  # noqa: BLE001 - report every failure the same way
        results["failed"] += 1
        print(f"FAIL  {name}: {type(err).__name__}: {err}")
        return
    if outcome == "skip":
        results["skipped"] += 1
        print(f"SKIP  {name}")
    else:
        results["passed"] += 1
        print(f"ok    {name}")


def yaml_files():
    files = sorted(p for p in (ROOT / "deploy").rglob("*.y*ml"))
    return files + [ROOT / "docker-compose.yml"]


def parse_all_yaml():
    for path in yaml_files():
        with path.open() as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        assert docs, f"{path} is empty"


def kustomize_dirs():
    return [K8S / "base"] + sorted(p for p in (K8S / "overlays").iterdir() if p.is_dir())


def render(directory):
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    out = subprocess.run([kubectl, "kustomize", str(directory)], check=True, capture_output=True, text=True, timeout=60)
    return [d for d in yaml.safe_load_all(out.stdout) if d is not None]


RENDERED = {}


def render_and_validate(directory):
    objects = render(directory)
    if objects is None:
        print("      (kubectl not found: `apt-get install kubectl` or any kubectl >= 1.27 renders kustomize)")
        return "skip"
    RENDERED[directory.name] = objects
    assert objects, "rendered nothing"
    for obj in objects:
        for version in K8S_VERSIONS:
            # strict: unknown fields (typos such as `readinessprobe`) fail.
            kubernetes_validate.validate(obj, version, strict=True)
    return None


def by_kind(objects, kind):
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def policy(overlay):
    objects = RENDERED.get(overlay)
    if objects is None:
        return "skip"
    dep = by_kind(objects, "Deployment")
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    (c,) = pod["containers"]
    env = {e["name"]: e for e in c.get("env", [])}
    assert spec["replicas"] == 3, "3 replicas"
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
        get = c[probe]["httpGet"]
        assert get["path"] == path, f"{probe} path"
        port = get["port"]
        named = {p["name"]: p["containerPort"] for p in c["ports"]}
        assert named.get(port, port) == ADMIN_PORT, f"{probe} on the admin port"
    assert env["BFF_ADMIN_LISTEN"]["value"] == f"0.0.0.0:{ADMIN_PORT}"
    # Pod Security Standard "restricted".
    psc, csc = pod["securityContext"], c["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] != 0
    assert psc["seccompProfile"]["type"] == "RuntimeDefault"
    assert csc["readOnlyRootFilesystem"] is True
    assert csc["allowPrivilegeEscalation"] is False
    assert csc["capabilities"]["drop"] == ["ALL"] and not csc["capabilities"].get("add")
    assert pod["automountServiceAccountToken"] is False
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(c["resources"][kind]), f"resources.{kind}"
    # Secrets: files for the client secret and keys, secret env for Redis.
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    secret_name = volumes["secrets"]["secret"]["secretName"]
    for var, key in (("BFF_CLIENT_SECRET_FILE", "client-secret"), ("BFF_SESSION_KEYS_FILE", "session-keys")):
        path = env[var]["value"]
        assert path == f"{mounts['secrets']['mountPath']}/{key}", var
        assert key in {i["key"] for i in volumes["secrets"]["secret"]["items"]}
    assert "BFF_CLIENT_SECRET" not in env and "BFF_SESSION_KEYS" not in env, "no inline secrets"
    assert env["BFF_REDIS_URL"]["valueFrom"]["secretKeyRef"]["name"] == secret_name
    assert mounts["secrets"]["readOnly"] and mounts["config"]["readOnly"]
    # PDB, Service, routes.
    labels = spec["selector"]["matchLabels"]
    pdb = by_kind(objects, "PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"] == labels
    assert 1 <= pdb["spec"]["minAvailable"] < 3
    svc = by_kind(objects, "Service")
    assert svc["spec"]["selector"] == labels
    assert all(p["targetPort"] != ADMIN_PORT and p["targetPort"] != "admin" for p in svc["spec"]["ports"]), "admin port not in the Service"
    # Only named peers reach the pods: the trusted proxy the public port,
    # monitoring the admin port (what makes BFF_TRUSTED_PROXIES safe).
    policy = by_kind(objects, "NetworkPolicy")
    assert policy["spec"]["podSelector"]["matchLabels"] == labels
    assert "Ingress" in policy["spec"]["policyTypes"]
    rules = policy["spec"]["ingress"]
    assert all(r.get("from") for r in rules), "an ingress rule open to every peer"
    assert {p["port"] for r in rules for p in r["ports"]} == {"http", "admin"}
    routes_cm = next(o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == volumes["config"]["configMap"]["name"])
    routes = tomllib.loads(routes_cm["data"]["bff.toml"])["routes"]
    assert any(r["prefix"] == "/api/" and r["auth"] == "required" for r in routes)
    if overlay != "base":
        secret = next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == secret_name)
        assert {"client-secret", "session-keys", "redis-url"} <= set(secret.get("data", {}) | secret.get("stringData", {}))
    return None


def compose_command():
    """`docker compose` (v2 plugin), else standalone `docker-compose`."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True, timeout=30).returncode == 0:
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    return [standalone] if standalone else None


def compose_config():
    command = compose_command()
    if command is None:
        print("      (neither the docker compose plugin nor docker-compose found)")
        return "skip"
    print(f"      ({' '.join(pathlib.Path(c).name for c in command)})")
    subprocess.run([*command, "-f", str(ROOT / "docker-compose.yml"), "--project-directory", str(ROOT), "config", "-q"], check=True, timeout=60)
    return None


sys.dont_write_bytecode = True  # no deploy/__pycache__ in the work tree
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from realm_check import check_realm  # noqa: E402


def bff_accepts_overlay(overlay):
    """Feeds the overlay's ConfigMaps and Secret to `bff --check-config`."""
    objects = RENDERED.get(overlay)
    binary = os.environ.get("BFF_BIN") or next((str(p) for p in (ROOT / "target/debug/bff", ROOT / "target/release/bff") if p.exists()), None)
    if objects is None or binary is None:
        print("      (needs kubectl and a built bff: cargo build)")
        return "skip"
    import base64

    dep = by_kind(objects, "Deployment")
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    cms = {o["metadata"]["name"]: o for o in objects if o["kind"] == "ConfigMap"}
    secret = next(o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"] == volumes["secrets"]["secret"]["secretName"])
    data = {k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()} | secret.get("stringData", {})
    with tempfile.TemporaryDirectory() as tmp:
        env = {"PATH": os.environ.get("PATH", "")}
        for ref in c.get("envFrom", []):
            env |= cms[ref["configMapRef"]["name"]]["data"]
        mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
        remap = {}
        for name, vol in volumes.items():
            target = pathlib.Path(tmp) / name
            target.mkdir()
            remap[mounts[name]] = str(target)
            files = cms[vol["configMap"]["name"]]["data"] if "configMap" in vol else {i["path"]: data[i["key"]] for i in vol["secret"]["items"]}
            for fname, content in files.items():
                (target / fname).write_text(content)
        for e in c["env"]:
            if "value" in e:
                value = e["value"]
                for mount, local in remap.items():
                    value = value.replace(mount, local)
                env[e["name"]] = value
            else:
                env[e["name"]] = data[e["valueFrom"]["secretKeyRef"]["key"]]
        out = subprocess.run([binary, "--check-config"], env=env, capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, f"bff --check-config exited {out.returncode}: {out.stderr.strip()}"
        assert "demo-bff-secret" not in out.stdout and "demo-redis" not in out.stdout, "secrets are redacted"
    return None


def promtool(*args):
    """Runs promtool; "skip" when it is not installed (check.sh installs it)."""
    binary = shutil.which("promtool")
    if binary is None:
        print("      (promtool not found: `apt-get install prometheus`; deploy/check.sh does)")
        return "skip"
    out = subprocess.run([binary, *args], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, f"promtool {' '.join(args)}:\n{out.stdout}{out.stderr}"
    return None


def alert_policy():
    """Every alert in group bff: `for`, a severity, a summary and a description."""
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    (group,) = [g for g in groups if g["name"] == "bff"]
    alerts = {r["alert"]: r for r in group["rules"] if "alert" in r}
    wanted = {"BffStoreErrors", "BffProviderErrors", "BffRefreshFailures", "BffRejectedCookiesRising", "BffReadinessFlapping", "BffNotReady", "BffHigh5xxRatio"}
    assert wanted <= set(alerts), f"missing alerts: {sorted(wanted - set(alerts))}"
    for name, rule in alerts.items():
        assert "for" in rule, f"{name}: no `for`"
        assert rule.get("labels", {}).get("severity") in {"info", "warning", "critical"}, f"{name}: severity"
        assert {"summary", "description"} <= set(rule.get("annotations", {})), f"{name}: summary and description"


def dashboard_targets():
    """(panel title, target) for every target of every panel, rows' too."""
    dashboard = json.loads(DASHBOARD.read_text())
    panels = []
    for panel in dashboard["panels"]:
        panels += [panel, *panel.get("panels", [])]
    return dashboard, [(p.get("title", "?"), t) for p in panels if p["type"] != "row" for t in p.get("targets", [])], panels


def dashboard_shape():
    dashboard, targets, panels = dashboard_targets()
    assert dashboard["schemaVersion"] >= 39, "schemaVersion 39+"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource" and variables["DS_PROMETHEUS"]["query"] == "prometheus"
    assert {"job", "instance"} <= set(variables), "job and instance variables"
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "duplicate panel ids"
    for p in panels:
        if p["type"] != "row":
            assert p.get("targets"), f"panel {p['title']!r} has no targets"
            assert p["datasource"]["uid"] == "${DS_PROMETHEUS}", f"panel {p['title']!r}: datasource"
    for title, target in targets:
        expr = target.get("expr", "").strip()
        assert expr, f"panel {title!r} target {target.get('refId')}: no expr"
        for selector in re.findall(r"\bbff_[a-z0-9_]+(\{[^}]*\})?", expr):
            assert 'job=~"$job"' in selector and 'instance=~"$instance"' in selector, f"panel {title!r}: {expr} not filtered by $job and $instance"


def dashboard_promql_parses():
    """Every dashboard expr (Grafana variables filled in) parses, via promtool."""
    _, targets, _ = dashboard_targets()
    rules = [{"record": f"dashboard:target_{i}", "expr": t["expr"].replace("$__rate_interval", "5m").replace("$job", ".*").replace("$instance", ".*")} for i, (_, t) in enumerate(targets)]
    with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
        f.flush()
        return promtool("check", "rules", f.name)


def exported_metrics_only():
    """The Rust test comparing every bff_* name with a real bff's /metrics."""
    cargo = shutil.which("cargo")
    if cargo is None:
        print("      (cargo not found)")
        return "skip"
    # The test needs redis-server; without it the harness skips it (passes)
    # unless BFF_REQUIRE_REDIS is set, so report that as skipped here.
    skips = shutil.which("redis-server") is None and not os.environ.get("BFF_REQUIRE_REDIS")
    command = [cargo, "test", "--locked", "--test", "it", METRICS_TEST]
    out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=3600)
    text = out.stdout + out.stderr
    at = text.find("panicked at")
    excerpt = text[at : at + 3000].split("stack backtrace:")[0] if at >= 0 else "\n".join(text.splitlines()[-40:])
    assert out.returncode == 0, f"{' '.join(command[1:])} exited {out.returncode}:\n{excerpt}"
    assert "1 passed" in out.stdout, f"{METRICS_TEST} did not run:\n{out.stdout[-2000:]}"
    if skips:
        print("      (redis-server not found: the test skipped; `apt-get install redis-server`)")
        return "skip"
    return None


def main():
    check("YAML parses (deploy/**, docker-compose.yml)", parse_all_yaml)
    for d in kustomize_dirs():
        check(f"kustomize {d.relative_to(ROOT)} renders and validates (strict, k8s {', '.join(K8S_VERSIONS)})", lambda d=d: render_and_validate(d))
    for d in kustomize_dirs():
        check(f"policy: {d.relative_to(ROOT)}", lambda d=d: policy(d.name))
    for d in kustomize_dirs()[1:]:
        check(f"bff --check-config accepts {d.relative_to(ROOT)}", lambda d=d: bff_accepts_overlay(d.name))
    check("docker compose config -q", compose_config)
    for name, fn in check_realm(ROOT):
        check(f"realm: {name}", fn)
    check("promtool check rules deploy/prometheus/bff-alerts.yml", lambda: promtool("check", "rules", str(ALERTS)))
    check("promtool test rules deploy/prometheus/bff-alerts.test.yml", lambda: promtool("test", "rules", str(ALERT_TESTS)))
    check("alerts: for, severity, summary, description", alert_policy)
    check("dashboard: parses, variables, every target has an expr filtered by job and instance", dashboard_shape)
    check("dashboard: every expr parses as PromQL (promtool)", dashboard_promql_parses)
    check(f"dashboard and alerts query only exported metrics (cargo test --test it {METRICS_TEST})", exported_metrics_only)
    print(f"{results['passed']} passed, {results['failed']} failed, {results['skipped']} skipped")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
