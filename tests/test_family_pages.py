"""Every page opens for the family beyond v1: a pre-activation and a channel-attention model at least.

Each page is opened through app.py with the model in the link, as a shared link would, and
must show no exception and no error; what each page says about these models in detail is
tested beside its own code (test_timm_family, test_anatomy, test_compare, test_feature_maps_page,
test_zero_init, test_paper_figure).
"""

from __future__ import annotations

import pytest

from explorer.analysis.anatomy import layer_table
from explorer.model.presets import PRESETS
from tests.conftest import open_app

PAGES = ("home", "architecture", "compare", "feature_maps", "predict", "zero_init")
# A pre-activation and a gated model of each family: ImageNet ResNetV2 and SE, CIFAR pre-activation;
# and a split-attention net that pools before its 3x3, with a tiered stem's.
MODELS = ("resnetv2_50", "seresnet50", "cifar_preact_resnet164", "resnest50d_4s2x40d", "resnet50t")


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("page", PAGES)
def test_every_page_opens_for_the_model(page: str, model: str) -> None:
    at = open_app(page, model=model)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.query_params["model"] == model


@pytest.mark.parametrize("model", ["resnetv2_50", "seresnet50", "ecaresnet50d", "resnest50d", "res2net50_26w_4s",
                                   "resnest50d_4s2x40d", "seresnext26t_32x4d"])
def test_the_architecture_page_shows_timms_parameter_count(model: str) -> None:
    at = open_app("architecture", model=model)
    params = layer_table(PRESETS[model], 224).totals.params
    assert next(m.proto.help for m in at.metric if m.label == "Parameters") == f"{params:,} parameters."


def test_a_timm_preset_says_where_its_trained_weights_come_from() -> None:
    at = open_app("predict", model="seresnet50")
    at.radio(key="pr_weights_kind").set_value("checkpoint").run()
    assert any("timm.create_model('seresnet50', pretrained=True)" in c.value for c in at.caption)
    at = open_app("predict", model="resnet18")
    at.radio(key="pr_weights_kind").set_value("checkpoint").run()
    assert not any("timm" in c.value for c in at.caption)
