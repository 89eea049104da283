#!/usr/bin/env python3
"""check.py: checks of deploy/kubernetes/ that need no cluster (make deploy-check).

It parses every manifest (PyYAML; Debian: python3-yaml) and checks what the
manifests promise one another and ctwatch: the kustomization lists every
manifest; selectors match the pod labels; the container port named
"metrics" is the port --metrics-addr listens on, and the probes, the Service
and the ServiceMonitor use it; the pod keeps only NET_ADMIN and stays
unprivileged otherwise; and every flag passed to ctwatch, here and in
contrib/systemd/ctwatch.service, is one `ctwatch watch -h` lists.

Usage: deploy/check.py BINARY   (a ctwatch binary built from this checkout)
"""

import glob
import os
import re
import shlex
import subprocess
import sys

try:
    import yaml
except ImportError:
    sys.exit("deploy-check: needs PyYAML (Debian: apt-get install python3-yaml)")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
K8S = os.path.join(ROOT, "deploy", "kubernetes")
UNIT = os.path.join(ROOT, "contrib", "systemd", "ctwatch.service")
NAMESPACE = "ctwatch"
METRICS_PORT = 9671

errors = []


def check(cond, msg):
    if not cond:
        errors.append(msg)


def load(path):
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    rel = os.path.relpath(path, ROOT)
    for d in docs:
        for key in ("apiVersion", "kind"):
            check(key in d, f"{rel}: a document has no {key}")
    return rel, docs


def watch_flags(binary):
    """The flags `ctwatch watch -h` lists."""
    out = subprocess.run([binary, "watch", "-h"], capture_output=True, text=True)
    flags = set(re.findall(r"^\s+--?([a-z][a-z0-9-]*)", out.stdout + out.stderr, re.M))
    if not flags:
        sys.exit(f"deploy-check: `{binary} watch -h` listed no flags")
    return flags


def check_args(where, args, flags):
    """args are ctwatch's arguments after the command: each --flag must exist."""
    for a in args:
        if a.startswith("-"):
            name = a.lstrip("-").split("=", 1)[0]
            check(name in flags, f"{where}: ctwatch watch has no flag --{name}")


def metrics_port(args):
    for i, a in enumerate(args):
        if a.startswith("--metrics-addr"):
            value = a.split("=", 1)[1] if "=" in a else args[i + 1]
            return int(value.rsplit(":", 1)[1])
    return None


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    flags = watch_flags(sys.argv[1])

    manifests = sorted(glob.glob(os.path.join(K8S, "*.yaml")))
    kust = os.path.join(K8S, "kustomization.yaml")
    objs = {}  # kind -> (file, object)
    for path in manifests + sorted(glob.glob(os.path.join(K8S, "*", "*.yaml"))):
        rel, docs = load(path)
        for d in docs:
            objs.setdefault(d.get("kind"), []).append((rel, d))
            meta = d.get("metadata") or {}
            if d.get("kind") not in ("Kustomization", "Namespace"):
                check(meta.get("namespace") == NAMESPACE, f"{rel}: {d.get('kind')} is not in namespace {NAMESPACE}")

    # The kustomization lists every top-level manifest (the ServiceMonitor,
    # in a subdirectory, needs CRDs and is applied separately).
    _, (k,) = load(kust)
    listed = set(k.get("resources", []))
    present = {os.path.basename(p) for p in manifests} - {"kustomization.yaml"}
    check(listed == present, f"kustomization.yaml lists {sorted(listed)}, deploy/kubernetes has {sorted(present)}")

    (rel, ds), = objs.get("DaemonSet", [(None, None)])
    check(ds is not None, "no DaemonSet")
    spec = ds["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    check(spec["selector"]["matchLabels"].items() <= labels.items(), f"{rel}: selector does not match the pod labels")
    check(pod.get("hostNetwork") is True, f"{rel}: hostNetwork must be true (the node's table)")
    check(pod.get("dnsPolicy") == "ClusterFirstWithHostNet", f"{rel}: dnsPolicy must be ClusterFirstWithHostNet with hostNetwork")
    check({"operator": "Exists"} in pod.get("tolerations", []), f"{rel}: no toleration of every taint")
    (c,) = pod["containers"]
    args = c.get("args", [])
    check(args[:1] == ["watch"], f"{rel}: args must start with the watch command")
    check_args(rel, args[1:], flags)
    check(metrics_port(args) == METRICS_PORT, f"{rel}: --metrics-addr does not listen on {METRICS_PORT}")
    ports = {p.get("name"): p for p in c.get("ports", [])}
    check(ports.get("metrics", {}).get("containerPort") == METRICS_PORT, f"{rel}: no container port named metrics = {METRICS_PORT}")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = (c.get(probe) or {}).get("httpGet") or {}
        check(get.get("path") == "/healthz" and get.get("port") == "metrics", f"{rel}: {probe} must GET /healthz on port metrics")
    sc = c.get("securityContext", {})
    caps = sc.get("capabilities", {})
    check(caps.get("drop") == ["ALL"], f"{rel}: capabilities must drop ALL")
    check(caps.get("add") == ["NET_ADMIN"], f"{rel}: the only capability added must be NET_ADMIN")
    check(sc.get("privileged") is False, f"{rel}: must not be privileged")
    check(sc.get("allowPrivilegeEscalation") is False, f"{rel}: allowPrivilegeEscalation must be false")
    check(sc.get("readOnlyRootFilesystem") is True, f"{rel}: the root file system must be read-only")
    check(sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{rel}: seccompProfile must be RuntimeDefault")
    check("memory" in c.get("resources", {}).get("limits", {}), f"{rel}: no memory limit")

    (srel, svc), = objs.get("Service", [(None, None)])
    check(svc is not None, "no Service")
    check(svc["spec"].get("clusterIP") == "None", f"{srel}: the Service must be headless")
    check(svc["spec"]["selector"].items() <= labels.items(), f"{srel}: selector does not match the pod labels")
    sports = {p.get("name"): p for p in svc["spec"]["ports"]}
    check(sports.get("metrics", {}).get("targetPort") == "metrics", f"{srel}: no port named metrics targeting the pod's metrics port")

    for mrel, sm in objs.get("ServiceMonitor", []):
        check(sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items(), f"{mrel}: selector does not match the Service")
        check(all(e.get("port") in sports for e in sm["spec"]["endpoints"]), f"{mrel}: an endpoint names a port the Service lacks")
    check(objs.get("ServiceMonitor"), "no ServiceMonitor example")

    # The systemd unit's flags are real too.
    with open(UNIT, encoding="utf-8") as f:
        (line,) = [l for l in f if l.startswith("ExecStart=")]
    argv = shlex.split(line.split("=", 1)[1])
    check(argv[1:2] == ["watch"], "ctwatch.service: ExecStart must run the watch command")
    check_args("ctwatch.service", argv[2:], flags)

    if errors:
        for e in errors:
            print("deploy-check:", e, file=sys.stderr)
        sys.exit(1)
    print(f"deploy-check: {len(present)} manifests, the kustomization and the unit agree with each other and with ctwatch watch -h")


main()
