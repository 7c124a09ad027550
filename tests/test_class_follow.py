"""What of a teacher's view travels (`explorer.ui.class_follow`): settings, never uploads or buttons."""

from __future__ import annotations

import enum
import json

from explorer.ui.class_follow import FOLLOWED, current_view, followed_values, own_changes


class Scale(str, enum.Enum):
    LAYER = "layer"


def test_a_view_holds_the_page_its_picker_and_its_followed_widgets_only() -> None:
    state = {
        "model_token": "resnet18", "model_input": 96, "model_preset": "resnet18",
        "fm_layer": "layer3.1", "fm_channel": 12, "fm_scale": Scale.LAYER, "fm_detail": True,
        "fm_sample": "chelsea", "fm_rf": True, "fm_rf_stage": "layer2", "fm_rf_row_layer2": 3,
        "fm_prev": False, "fm_next": True, "fm_upload": object(), "fm_steps": {"memo": 1}, "fm_png": False,
        "zi_steps": 60, "cmp_input": 224, "lang": "zh",
    }
    view = current_view("feature_maps", state)
    assert view["page"] == "feature_maps" and view["own"] == []
    assert view["values"] == {
        "model_token": "resnet18", "model_input": 96, "fm_layer": "layer3.1", "fm_channel": 12, "fm_scale": "layer",
        "fm_detail": True, "fm_sample": "chelsea", "fm_rf": True, "fm_rf_stage": "layer2", "fm_rf_row_layer2": 3,
    }
    json.dumps(view)  # plain JSON: it crosses servers through Redis


def test_an_upload_stays_with_the_teacher_and_is_named() -> None:
    state = {"fm_image_source": "upload", "fm_weights_kind": "checkpoint", "fm_layer": "layer1.0"}
    view = current_view("feature_maps", state)
    assert view["own"] == ["fm_image_source", "fm_weights_kind"]
    assert "fm_image_source" not in view["values"] and "fm_weights_kind" not in view["values"]
    assert current_view("feature_maps", {"fm_image_source": "sample"})["values"] == {"fm_image_source": "sample"}


def test_compare_sends_both_pickers_and_predict_the_grad_cam_targets() -> None:
    compare = current_view("compare", {"cmp_model_a_token": "resnet18", "cmp_model_b_token": "resnet50",
                                       "model_token": "resnet152", "cmp_input": 160, "cmp_a_rf_stage": "layer3"})
    assert compare["values"] == {"cmp_model_a_token": "resnet18", "cmp_model_b_token": "resnet50", "cmp_input": 160,
                                 "cmp_a_rf_stage": "layer3"}
    predict = current_view("predict", {"model_token": "resnet50", "pr_samples": ["coffee"], "pr_0_cam": 2,
                                       "pr_b_1_cam": 0, "pr_uploads": [], "pr_stage": "layer4"})
    assert predict["values"] == {"model_token": "resnet50", "pr_samples": ["coffee"], "pr_0_cam": 2,
                                 "pr_b_1_cam": 0, "pr_stage": "layer4"}


def test_home_sends_only_the_page() -> None:
    assert current_view("home", {"model_token": "resnet18", "fm_layer": "x"}) == {"page": "home", "values": {}, "own": []}
    assert set(FOLLOWED) == {"home", "architecture", "compare", "feature_maps", "zero_init", "predict"}


def test_own_changes_are_the_values_that_differ_while_a_missing_widget_is_none() -> None:
    before = followed_values("feature_maps", {"fm_layer": "layer1.0", "fm_channel": 3, "fm_rf": False})
    assert own_changes(before, followed_values("feature_maps", {"fm_layer": "layer1.0", "fm_channel": 3})) == []
    assert own_changes(before, followed_values("feature_maps", {"fm_layer": "layer2.0", "fm_channel": 3,
                                                                "fm_rf": False})) == ["fm_layer"]


def test_compare_sends_the_third_model_and_zero_init_the_pre_activation_study() -> None:
    compare = current_view("compare", {"cmp_model_a_token": "resnet50", "cmp_model_b_token": "seresnet50",
                                       "cmp_model_c_token": "resnetv2_50", "cmp_third": True})
    assert compare["values"] == {"cmp_model_a_token": "resnet50", "cmp_model_b_token": "seresnet50",
                                 "cmp_model_c_token": "resnetv2_50", "cmp_third": True}
    zero_init = current_view("zero_init", {"model_token": "cifar_resnet20", "zi_pre_depth": 164, "zi_pre_steps": 20,
                                           "zi_pre_batch": 16, "zi_pre_train": True})
    assert zero_init["values"] == {"model_token": "cifar_resnet20", "zi_pre_depth": 164, "zi_pre_steps": 20,
                                   "zi_pre_batch": 16}
