"""torchvision's pretrained ImageNet weights: which exist for a spec, where they are cached, the download.

Weights go through torchvision's weights enums (the meta names the classes and
``transforms()`` is the preprocessing) and are cached where torchvision caches them
(``$TORCH_HOME/hub/checkpoints``). Without internet the error says where to put the file.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torchvision.models import get_model_weights

from explorer.model.build import build_model
from explorer.model.presets import TORCHVISION_PRESETS
from explorer.model.spec import ResNetSpec
from explorer.runtime.progress import Progress, no_progress
from explorer.runtime.i18n import N_, _

_HASH_IN_NAME = re.compile(r"-([a-f0-9]*)\.")  # torch.hub's convention: name-<sha256 prefix>.pth
FETCH_COMMAND = "python -m explorer fetch-weights"  # the CLI command that fills the cache (`explorer.cli`)


class WeightsUnavailable(RuntimeError):
    """Pretrained weights that cannot be had (offline, blocked); the message says what to do.

    A download fails in a worker thread that sessions share (`explorer.studies.shared_results`), so
    the message is kept as its English text and values and said in the reader's language
    when read (``str(error)``).
    """

    def __init__(self, message: str, **values: object) -> None:
        super().__init__(message.format(**values))
        self.message, self.values = message, values

    def __str__(self) -> str:
        return _(self.message).format(**self.values)


def torchvision_name(spec: ResNetSpec) -> str | None:
    """The torchvision model whose ImageNet weights fit ``spec`` (zero_init is irrelevant there)."""
    name = spec.with_changes(zero_init_residual=False).preset
    return name if name in TORCHVISION_PRESETS else None


def available_weights(spec: ResNetSpec) -> dict[str, object]:
    """Weights enum members for ``spec`` by name ({} for specs torchvision has no weights for)."""
    name = torchvision_name(spec)
    if name is None:
        return {}
    return {w.name: w for w in get_model_weights(name)}


def default_weights(spec: ResNetSpec) -> str | None:
    """The name of torchvision's ``DEFAULT`` weights for ``spec`` (None where torchvision has none)."""
    return next((name for name, w in available_weights(spec).items() if w is w.__class__.DEFAULT), None)


@functools.cache
def imagenet_categories() -> tuple[str, ...]:
    """ImageNet-1K's 1,000 class names in output order, from torchvision's weights meta (no download)."""
    return tuple(get_model_weights("resnet50").DEFAULT.meta["categories"])


def fetch_weights_command(wanted: Sequence[tuple[ResNetSpec, str]]) -> str:
    """The shell command that puts these (spec, weights name) into the cache, for a notice to quote.

    ``python -m explorer fetch-weights resnet18 resnet50`` for models that want their
    ``DEFAULT`` weights; another weights name gets a command of its own with ``--weights``,
    joined by ``&&``. Specs without torchvision weights are left out ("" if none is left).
    """
    defaults: dict[str, None] = {}  # torchvision names in order, once each
    others: dict[tuple[str, str], None] = {}
    for spec, weights in wanted:
        name = torchvision_name(spec)
        if name is None:
            continue
        if weights == default_weights(spec):
            defaults[name] = None
        else:
            others[name, weights] = None
    commands = [f"{FETCH_COMMAND} {' '.join(defaults)}"] if defaults else []
    commands += [f"{FETCH_COMMAND} {name} --weights {weights}" for name, weights in others]
    return " && ".join(commands)


def weights_file(weights) -> Path:
    """Where torchvision keeps (or expects) this weights file."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def download_weights(weights, progress: Progress = no_progress, timeout: float = 30.0) -> Path:
    """Make sure the weights file is in torchvision's cache, reporting the share and megabytes done.

    Raises `WeightsUnavailable` naming the file and the folder to put it in when offline.
    """
    target = weights_file(weights)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    expected = _HASH_IN_NAME.search(target.name)
    digest = hashlib.sha256()
    partial = None
    try:
        with urllib.request.urlopen(weights.url, timeout=timeout) as response:
            total = int(response.headers.get("Content-Length", 0)) or None
            with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
                done = 0
                while chunk := response.read(1 << 20):
                    partial.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    progress(done / total if total else 0.0, lambda done=done: _(
                        "Downloading {weights} weights… {size:.0f} MB").format(weights=weights.name, size=done / 2**20))
        if expected and not digest.hexdigest().startswith(expected.group(1)):
            raise WeightsUnavailable(N_("The download of {file} was corrupted (hash mismatch); try again."),
                                     file=target.name)
        os.replace(partial.name, target)
        partial = None
    except (urllib.error.URLError, OSError, TimeoutError) as error:
        reason = getattr(error, "reason", error)
        raise WeightsUnavailable(N_(
            "Could not download the pretrained weights ({reason}). Without internet, download "
            "{url} on another machine and place it as {file} in {folder}/ "
            "(torchvision's cache, set by TORCH_HOME), where it is found without a download."
        ), reason=reason, url=weights.url, file=target.name, folder=target.parent) from None
    finally:  # a stalled or stopped download leaves nothing behind in the cache the replicas share
        if partial is not None and os.path.exists(partial.name):
            os.unlink(partial.name)
    return target


def load_pretrained(spec: ResNetSpec, weights_name: str, device: str = "cpu",
                    progress: Progress = no_progress) -> nn.Module:
    """``spec`` with torchvision's ImageNet weights, in eval mode on ``device``."""
    options = available_weights(spec)
    if weights_name not in options:
        if options:
            raise WeightsUnavailable(N_("{model} has no torchvision ImageNet weights named {weights!r}; available: "
                                        "{available}."), model=spec.name, weights=weights_name,
                                     available=", ".join(options))
        raise WeightsUnavailable(N_("{model} has no torchvision ImageNet weights named {weights!r} (only the ten "
                                    "torchvision ResNets do)."), model=spec.name, weights=weights_name)
    path = download_weights(options[weights_name], progress)
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = build_model(spec, "cpu", seed=0)
    model.load_state_dict(state)
    return model.to(device).eval()

