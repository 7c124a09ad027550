"""The lessons: ResNet-18 vs ResNet-50, then beyond the 2015 block; the pages in teaching order, each on its model.

Home turns these into numbered links. Their addresses hold the same URL tokens the model
picker writes (``?model=resnet18``; Compare's ``?a=…&b=…``), so a step opens its page with
the model chosen, and a teacher can paste the same address. No torch here: Home loads none.
"""

from __future__ import annotations

from dataclasses import dataclass

from explorer.runtime.i18n import N_
from explorer.model.presets import get_preset
from explorer.model.token import spec_to_token


@dataclass(frozen=True)
class PageSummary:
    """One page of the app and the one line that says what it teaches."""

    page: str  # a key of `picker.pages()`
    title: str  # marked with N_(), shown through _()
    teaches: str


@dataclass(frozen=True)
class LessonStep:
    """One numbered step: the page, the models its pickers open on, and what to look at there."""

    page: str
    label: str  # label and look_for: marked with N_(), shown through _()
    look_for: str
    models: tuple[tuple[str, str], ...]  # (the picker's URL parameter, preset name)

    @property
    def query_params(self) -> dict[str, str]:
        return {prefix: spec_to_token(get_preset(preset)) for prefix, preset in self.models}


PAGE_SUMMARIES = (
    PageSummary("architecture", N_("Architecture"), N_(
        "The layer table (shapes, strides, shortcuts, params, MACs, receptive field), the paper's Figure 3 and "
        "Table 1 redrawn from the model, how tools count, and measured latency.")),
    PageSummary("compare", N_("Compare"), N_(
        "Two models side by side: where the extra cost goes, what it buys in ImageNet accuracy, and the same "
        "picture through both.")),
    PageSummary("feature_maps", N_("Feature maps"), N_(
        "What every layer does to a picture: browse the activations, a block's shortcut and branch, and the "
        "receptive field of any position.")),
    PageSummary("zero_init", "zero_init_residual", N_(
        "Why the last BN of each block may start at zero, and why a net without shortcuts trains worse as it "
        "gets deeper.")),
    PageSummary("predict", N_("Predict"), N_(
        "Classify your own images with ImageNet weights or your checkpoint, with Grad-CAM showing where the "
        "model looked.")),
)

LESSON = (
    LessonStep("architecture", N_("ResNet-18, layer by layer"), N_(
        "Look for where the resolution halves, which shortcuts need a projection, and where the MACs are."),
        (("model", "resnet18"),)),
    LessonStep("compare", N_("ResNet-18 against ResNet-50"), N_(
        "Look for 2.25× the MACs: which stages take them, and how many points of ImageNet accuracy they buy."),
        (("a", "resnet18"), ("b", "resnet50"))),
    LessonStep("feature_maps", N_("One photo through ResNet-18"), N_(
        "Look for edges in the stem, parts in layer2–3, classes in layer4, and how far each position sees."),
        (("model", "resnet18"),)),
    LessonStep("zero_init", N_("zero_init_residual on ResNet-50"), N_(
        "Look for the blocks that start as the identity with the flag on, then train both twins (about a minute). "
        "Below, train the plain and residual nets: the deeper plain net ends with the higher training loss."),
        (("model", "resnet50"),)),
    LessonStep("predict", N_("Predict with ResNet-50"), N_(
        "Look for its top-5 on your own photo, then the same photo through ResNet-18 (Compare models)."),
        (("model", "resnet50"),)),
)

# The second lesson: what came after the 2015 block (He et al. 2016b's pre-activation, Hu et al.'s SE gate).
FAMILY_LESSON = (
    LessonStep("compare", N_("Three ResNet-50s side by side"), N_(
        "Look for what the SE gates cost (about 10 % more parameters, well under 1 % more MACs, most of both in "
        "layer4) and what pre-activation moves (a few thousand BN parameters, nothing else)."),
        (("a", "resnet50"), ("b", "seresnet50"), ("c", "resnetv2_50"))),
    LessonStep("architecture", N_("Pre-activation, drawn"), N_(
        "In the diagram and Figure 3, look for BN-ReLU before each conv, nothing after the add, and the one BN-ReLU "
        "before the pool."), (("model", "resnetv2_50"),)),
    LessonStep("feature_maps", N_("SE gates on one photo"), N_(
        "Choose a block and look at its gate: one number per channel, between 0 and 1, that rescales the residual "
        "branch before the add."), (("model", "seresnet50"),)),
    LessonStep("zero_init", N_("Pre-activation through depth"), N_(
        "Look for what zero_init_residual zeroes in a pre-activation block (a conv's weight: no BN ends the branch), "
        "then open the post- against pre-activation study."), (("model", "resnetv2_50"),)),
)
