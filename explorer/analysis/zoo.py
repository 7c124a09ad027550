"""What torchvision's published ResNet weights buy: ImageNet accuracy beside cost, from the weights meta.

Every number here is read from torchvision's weights enums (``meta["_metrics"]``,
``meta["_ops"]``, ``meta["num_params"]``), never typed in. torchvision names ``_ops``
"GFLOPS", but it counts multiply-accumulates: `ops_convention` checks that against the
explorer's own layer table.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import torchvision.models
from torchvision.models import get_model_weights, list_models

from explorer.analysis.anatomy import layer_table
from explorer.model.families import IMAGENET
from explorer.model.presets import PRESETS
from explorer.model.spec import ResNetSpec
from explorer.model.pretrained import available_weights, torchvision_name
from explorer.runtime.i18n import N_, _

FAMILIES = ("resnet", "resnext", "wide_resnet")  # torchvision's classification ResNets, by name prefix
DATASET = "ImageNet-1K"


class Recipe(str, enum.Enum):
    """How torchvision trained a weights version, read from its meta's ``_docs``, not from its name:
    resnext101_64x4d's only weights are called V1 but were trained with the new recipe."""

    ORIGINAL = "original"  # "reproduce closely the results of the paper using a simple training recipe"
    NEW = "new"  # torchvision's 2021 recipe (longer, stronger augmentation, EMA …): "new training recipe"

    @property
    def label(self) -> str:
        """The recipe in the reader's language."""
        return _(_RECIPE_LABELS[self])

    @classmethod
    def of(cls, meta: dict) -> Recipe:
        """The recipe a weights meta describes: its ``_docs`` name torchvision's "new training recipe"."""
        return cls.NEW if "new training recipe" in " ".join(meta.get("_docs", "").split()) else cls.ORIGINAL


_RECIPE_LABELS = {Recipe.ORIGINAL: N_("original recipe"), Recipe.NEW: N_("new recipe")}


@dataclass(frozen=True)
class PublishedWeights:
    """One torchvision weights version of one model, as its meta reports it."""

    model: str  # "resnet50"
    weights: str  # "IMAGENET1K_V2"
    acc1: float  # top-1 accuracy on ImageNet-1K val, percent
    acc5: float  # top-5 accuracy, percent
    gmacs: float  # meta "_ops" (called GFLOPS there; counts multiply-accumulates), cut after 3 decimals
    params: int
    recipe: Recipe  # from the meta's docs: the weights' name does not tell (`Recipe`)

    @property
    def label(self) -> str:
        return f"{self.model} {self.weights}"


def _entry(model: str, weights) -> PublishedWeights:
    meta = weights.meta
    metrics = meta["_metrics"][DATASET]
    return PublishedWeights(model, weights.name, metrics["acc@1"], metrics["acc@5"], meta["_ops"], meta["num_params"],
                            Recipe.of(meta))


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


def convention_text(convention: OpsConvention) -> str:
    """Where the published accuracy and cost come from, and whether the meta's "GFLOPS" are MACs,
    in the reader's language."""
    text = _(
        "ImageNet-1K validation accuracy and cost at 224×224, from torchvision's weights meta. The meta calls its cost "
        "“GFLOPS”, but for {model} it reads {meta_ops:g} where this explorer counts {gmacs:.3f} G multiply-accumulates "
        "(FLOPs would be {gflops:.2f} G): it counts **MACs**, so the chart says GMACs.") if convention.counts_macs else _(
        "ImageNet-1K validation accuracy and cost at 224×224, from torchvision's weights meta. The meta calls its cost "
        "“GFLOPS”, but for {model} it reads {meta_ops:g} where this explorer counts {gmacs:.3f} G multiply-accumulates "
        "(FLOPs would be {gflops:.2f} G): it does not count MACs.")
    return text.format(model=convention.model, meta_ops=convention.meta_ops, gmacs=convention.table_macs / 1e9,
                       gflops=2 * convention.table_macs / 1e9)
