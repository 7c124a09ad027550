"""What torchvision's published ResNet weights buy: ImageNet accuracy beside cost, from the weights meta.

Every number here is read from torchvision's weights enums (``meta["_metrics"]``,
``meta["_ops"]``, ``meta["num_params"]``), never typed in. torchvision names ``_ops``
"GFLOPS", but it counts multiply-accumulates: `ops_convention` checks that against the
explorer's own layer table.
"""

from __future__ import annotations

from dataclasses import dataclass

import torchvision.models
from torchvision.models import get_model_weights, list_models

from explorer.analysis.anatomy import layer_table
from explorer.model.families import IMAGENET
from explorer.model.presets import PRESETS
from explorer.model.spec import ResNetSpec
from explorer.model.pretrained import available_weights, torchvision_name

FAMILIES = ("resnet", "resnext", "wide_resnet")  # torchvision's classification ResNets, by name prefix
DATASET = "ImageNet-1K"


@dataclass(frozen=True)
class PublishedWeights:
    """One torchvision weights version of one model, as its meta reports it."""

    model: str  # "resnet50"
    weights: str  # "IMAGENET1K_V2"
    acc1: float  # top-1 accuracy on ImageNet-1K val, percent
    acc5: float  # top-5 accuracy, percent
    gmacs: float  # meta "_ops" (called GFLOPS there; counts multiply-accumulates), cut after 3 decimals
    params: int

    @property
    def label(self) -> str:
        return f"{self.model} {self.weights}"


def _entry(model: str, weights) -> PublishedWeights:
    meta = weights.meta
    metrics = meta["_metrics"][DATASET]
    return PublishedWeights(model, weights.name, metrics["acc@1"], metrics["acc@5"], meta["_ops"], meta["num_params"])


def zoo_models() -> tuple[str, ...]:
    """Every torchvision classification ResNet, ResNeXt and Wide ResNet, by name."""
    return tuple(name for name in list_models(module=torchvision.models) if name.startswith(FAMILIES))


def published_weights() -> tuple[PublishedWeights, ...]:
    """Every ImageNet-1K weights version of every `zoo_models` model, by GMACs then weights."""
    entries = [_entry(model, w) for model in zoo_models() for w in get_model_weights(model)]
    return tuple(sorted(entries, key=lambda e: (e.gmacs, e.model, e.weights)))


def weights_of(spec: ResNetSpec) -> tuple[PublishedWeights, ...]:
    """The published weights that load into ``spec`` (V1, V2 …); () for a spec torchvision has none for."""
    model = torchvision_name(spec)
    return tuple(_entry(model, w) for w in available_weights(spec).values()) if model else ()


@dataclass(frozen=True)
class OpsConvention:
    """torchvision's ``_ops`` of one model beside the explorer's own count of its MACs."""

    model: str
    meta_ops: float  # "GFLOPS" in the meta
    table_macs: int  # conv + linear multiply-accumulates, `layer_table` at 224 px

    @property
    def counts_macs(self) -> bool:
        """True when the meta's figure is the MAC count (it is cut, not rounded, after 3 decimals)."""
        return abs(self.meta_ops - self.table_macs / 1e9) < 1e-3


def ops_convention(model: str = "resnet50") -> OpsConvention:
    """Whether torchvision's "GFLOPS" are MACs or FLOPs, judged on ``model`` (a preset name)."""
    spec = PRESETS[model]
    return OpsConvention(model, weights_of(spec)[0].gmacs, layer_table(spec, IMAGENET.input_size).totals.macs)
