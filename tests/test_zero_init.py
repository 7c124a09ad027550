"""The zero_init_residual study, and the page that shows it with the degradation study."""

from __future__ import annotations

import json
import math

import pytest
import torch

from explorer.model.build import build_model
from explorer.model.presets import PRESETS, cifar_resnet
from explorer.data.shapes import task_batch
from explorer.model.spec import ResNetSpec
from explorer.studies.degradation import degradation_models
from explorer.studies.training import SUMMARY_WINDOW, TrainingRun, task_specs, train_models
from explorer.studies.class_time import estimate_text
from explorer.studies.zero_init import block_statistics, twin_init, twins, zero_init_targets, zero_target_text
from tests.conftest import open_app
from tests.test_class_time import made_up_cost


@pytest.fixture
def made_up_costs(monkeypatch: pytest.MonkeyPatch):
    """The page's step costs from a made-up server (`made_up_cost`: nothing timed), so its defaults
    and estimates are exact; the server-wide cache of measured costs is emptied around the test."""
    from explorer.studies import class_time
    from explorer.ui.models import step_cost

    monkeypatch.setattr(class_time, "measure_step_cost", made_up_cost)
    step_cost.clear()
    yield
    step_cost.clear()


def _small(name: str, **changes: object) -> ResNetSpec:
    """A two-stage, narrow version of preset ``name`` (its block kind kept): quick to build and run."""
    return PRESETS[name].with_changes(stages=(2, 2), stage_planes=(8, 16), **changes)


SMALL_FAMILY = {  # one of each block kind: pre-activation (basic, bottleneck), gated, ResNeSt, Res2Net
    "resnetv2_50": _small("resnetv2_50", stem_width=16), "resnetv2_18": _small("resnetv2_18", stem_width=16),
    "seresnet50": _small("seresnet50", stem_width=16), "seresnet18": _small("seresnet18", stem_width=16),
    "ecaresnet50d": _small("ecaresnet50d", stem_width=16), "resnest14d": _small("resnest14d", stem_width=16),
    "res2net50_26w_4s": _small("res2net50_26w_4s", stem_width=16),
    "cifar_preact_resnet164": PRESETS["cifar_preact_resnet164"].with_changes(stages=(2, 2, 2)),
}


@pytest.mark.parametrize(("spec", "size"), [
    (cifar_resnet(20), 32), (PRESETS["resnet18"], 64), (PRESETS["resnet50"], 64), (cifar_resnet(20, shortcut="B"), 32),
    (ResNetSpec(stages=(2, 2), stem="cifar", stem_width=16, stage_planes=(16, 32), stride_style="caffe"), 32),
    *((spec, 32) for spec in SMALL_FAMILY.values()),
], ids=lambda value: getattr(value, "name", str(value)))
def test_every_block_without_projection_is_exactly_the_identity(spec: ResNetSpec, size: int) -> None:
    """For every block kind: with the flag a block's output is exactly its shortcut's alone (its input,
    where it has no projection; relu(shortcut) after a post-activation block's add), without it never."""
    study = twin_init(spec, seed=3, batch_size=4, input_size=size)
    assert any(not on.projection for on in study.on)
    for on, off in zip(study.on, study.off):
        assert on.identity == (not on.projection), on.name
        assert on.shortcut_only and not off.shortcut_only, on.name
        assert not off.identity, off.name
        assert (on.branch_ratio == 0.0) and off.branch_ratio > 0, on.name


def test_a_projection_block_outputs_its_shortcut_alone_in_a_plain_forward() -> None:
    """What `shortcut_only` means, checked by hand: relu(downsample(x)) for a post-activation block,
    downsample(relu(bn1(x))) for a pre-activation one (nothing after its add)."""
    with torch.no_grad():
        post = build_model(SMALL_FAMILY["seresnet50"].with_changes(zero_init_residual=True), seed=0).train().layer2[0]
        x = torch.relu(torch.randn(4, 32, 8, 8))  # layer1's output: 4 x 8 channels
        assert torch.equal(post(x.clone()), torch.relu(post.downsample(x)))
        pre = build_model(SMALL_FAMILY["resnetv2_50"].with_changes(zero_init_residual=True), seed=0).train().layer2[0]
        y = torch.randn(4, 32, 8, 8)
        expected = pre.downsample(pre.relu(pre.bn1(y.clone())))
        assert torch.equal(pre(y.clone()), expected)
        off = build_model(SMALL_FAMILY["resnetv2_50"], seed=0).train().layer2[0]
        assert not torch.equal(off(y.clone()), off.downsample(off.relu(off.bn1(y.clone()))))


@pytest.mark.parametrize(("name", "parameter", "kind", "gate"), [
    ("resnetv2_50", "conv3.weight", "PreActBottleneck", None), ("resnetv2_18", "conv2.weight", "PreActBasicBlock", None),
    ("seresnet50", "bn3.weight", "SpecBottleneck", "SqueezeExcitation"),
    ("seresnet18", "bn2.weight", "SpecBasicBlock", "SqueezeExcitation"),
    ("ecaresnet50d", "bn3.weight", "SpecBottleneck", "EfficientChannelAttention"),
    ("resnest14d", "bn3.weight", "SplitAttentionBottleneck", None),
    ("res2net50_26w_4s", "bn3.weight", "Res2NetBottleneck", None),
    ("cifar_preact_resnet164", "conv3.weight", "PreActBottleneck", None),
])
def test_the_zeroed_parameter_of_each_block_kind(name: str, parameter: str, kind: str, gate: str | None) -> None:
    """`zero_init_targets` names what the flag really zeroes: that parameter is all zeros in every block
    with the flag, and in none without it."""
    spec = SMALL_FAMILY[name]
    (target,) = zero_init_targets(spec)
    assert (target.parameter, target.block_kind, target.gate) == (parameter, kind, gate)
    assert target.blocks == tuple(f"layer{s + 1}.{b}" for s, count in enumerate(spec.stages) for b in range(count))
    on = build_model(spec.with_changes(zero_init_residual=True), seed=0)
    off = build_model(spec.with_changes(zero_init_residual=False), seed=0)
    for block in target.blocks:
        assert not on.get_parameter(f"{block}.{parameter}").any(), block
        assert off.get_parameter(f"{block}.{parameter}").any(), block
    text = zero_target_text(target)
    assert text.startswith(f"`{target.blocks[0]}.{parameter}` … `{target.blocks[-1]}.{parameter}` "
                           f"({len(target.blocks)} × `{kind}`): ")
    assert ("γ of the branch's last BatchNorm" in text) == parameter.startswith("bn")
    assert ("a pre-activation block ends in a conv" in text) == parameter.startswith("conv")
    assert (f"{gate} gate" in text) == (gate is not None)


def test_identity_means_equal_tensors_in_a_plain_forward() -> None:
    spec = PRESETS["resnet18"].with_changes(zero_init_residual=True)
    model = build_model(spec, seed=0).train()
    x = torch.relu(torch.randn(4, 64, 16, 16))
    with torch.no_grad():
        assert torch.equal(model.layer1[0](x.clone()), x)
    off = build_model(spec.with_changes(zero_init_residual=False), seed=0).train()
    with torch.no_grad():
        assert not torch.equal(off.layer1[0](x.clone()), x)


def test_zero_init_silences_the_branch_gradients_at_step_zero() -> None:
    study = twin_init(cifar_resnet(20), seed=0, batch_size=8, input_size=32)
    on = {g.name: g.norm for g in study.gradients_on}
    off = {g.name: g.norm for g in study.gradients_off}
    assert on["layer1.0.conv1"] == 0.0 and on["layer3.2.conv2"] == 0.0
    assert on["fc"] > 0 and all(v > 0 for v in off.values())
    assert [g.name for g in study.gradients_on] == [g.name for g in study.gradients_off]


def test_signal_propagation_stays_flat_with_the_flag_and_grows_without() -> None:
    study = twin_init(cifar_resnet(56), seed=0, batch_size=8, input_size=32)
    stage1_on = [s.variance for s in study.on if s.name.startswith("layer1.")]
    stage1_off = [s.variance for s in study.off if s.name.startswith("layer1.")]
    assert max(stage1_on) == pytest.approx(min(stage1_on))  # identity blocks do not change the signal
    assert stage1_off[-1] > 3 * stage1_off[0]  # each block adds its branch's variance


def test_plain_nets_have_no_shortcut_and_the_same_parameters() -> None:
    plain = cifar_resnet(20, shortcut="none")
    x = torch.relu(torch.randn(2, 16, 8, 8))
    model = build_model(plain, seed=0).train()
    with torch.no_grad():
        block = model.layer1[0]
        expected = torch.relu(block.bn2(block.conv2(block.relu(block.bn1(block.conv1(x))))))
        torch.testing.assert_close(block(x.clone()), expected)
    inputs, _ = task_batch(4, 32, 10)
    stats = block_statistics(plain.with_changes(zero_init_residual=True), 0, inputs)
    # Without a shortcut, a zeroed branch outputs relu(0) = 0: the signal dies in the first block.
    assert not stats[0].identity and all(s.variance == 0 and s.mean_square == 0 for s in stats)


def test_the_shapes_task_trains_a_head_of_one_output_per_class() -> None:
    """Issue 23: with the 1000-way fc kept for a 4-class task the loss started near ln(1000) = 6.9."""
    assert {s.num_classes for s in task_specs(twins(PRESETS["resnet18"])).values()} == {4}
    assert {s.num_classes for s in task_specs({"3": cifar_resnet(8, num_classes=3)}).values()} == {3}
    histories = train_models(twins(PRESETS["resnet18"]), steps=1, batch_size=16, seed=0, input_size=32, examples=64)
    for label, (first,) in histories.items():
        assert abs(first.loss - math.log(4)) < 0.5, (label, first.loss)  # ln 4 = 1.39; ln 1000 = 6.91


def test_the_page_with_tiny_settings() -> None:
    at = open_app("zero_init", timeout=300, model="cifar_resnet20")
    assert not at.exception
    at.number_input(key="zi_batch").set_value(8).run()
    at.number_input(key="zi_steps").set_value(3).run()
    at.number_input(key="zi_size").set_value(16).run()
    identity = next(d.value for d in at.dataframe if "identity, flag on" in d.value.columns)
    assert list(identity["identity, flag on"]) == ["✓ exactly" if p == "" else "✗" for p in identity["projection shortcut"]]
    assert set(identity["identity, flag off"]) == {"✗"}
    at.button(key="zi_train").click().run()
    assert not at.exception
    curves = json.loads(next(c for c in at.get("plotly_chart") if c.key == "zi_curves").proto.spec)
    assert {t["name"] for t in curves["data"]} == {"zero_init_residual=True", "zero_init_residual=False"}
    assert len(curves["data"][0]["x"]) == 3
    at.selectbox(key="zi_deep").set_value(32).run()
    at.number_input(key="zi_deg_steps").set_value(3).run()
    at.number_input(key="zi_deg_batch").set_value(8).run()
    at.button(key="zi_deg_train").click().run()
    assert not at.exception
    curves = json.loads(next(c for c in at.get("plotly_chart") if c.key == "zi_deg_curves").proto.spec)
    assert {t["name"] for t in curves["data"]} == {"plain-20", "ResNet-20", "plain-32", "ResNet-32"}


def test_the_page_explains_plain_networks() -> None:
    at = open_app("zero_init", timeout=120, model="cifar_resnet20;shortcut=none")
    assert not at.exception and any("plain network" in i.value for i in at.info)


def test_training_that_would_not_fit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer.runtime import memory
    from explorer.runtime.memory import DoesNotFit, MemoryLimit

    monkeypatch.setattr(memory, "device_memory", lambda device: MemoryLimit(50 * 2**20, 8 * 2**30, "cgroup v2"))
    with pytest.raises(DoesNotFit, match="Training resnet50 zero-init 4cls at 224x224 with batch 64 needs about"):
        train_models(twins(PRESETS["resnet50"]), steps=1, batch_size=64, input_size=224)
    at = open_app("zero_init", timeout=120, model="resnet152")
    at.number_input(key="zi_size").set_value(224).run()
    assert not at.exception and any("but only 0.05 GiB is free" in e.value for e in at.error)


def test_a_second_session_sees_the_class_run_without_training_again() -> None:
    from explorer.ui.class_runs import class_results

    first = open_app("zero_init", timeout=300, model="cifar_resnet20")
    first.number_input(key="zi_batch").set_value(8).run()
    first.number_input(key="zi_steps").set_value(2).run()
    first.number_input(key="zi_size").set_value(16).run()
    store = class_results()
    started = store.runs_started
    first.button(key="zi_train").click().run()
    assert not first.exception and store.runs_started == started + 1
    curves = json.loads(next(c for c in first.get("plotly_chart") if c.key == "zi_curves").proto.spec)
    second = open_app("zero_init", timeout=300, model="cifar_resnet20")
    second.number_input(key="zi_batch").set_value(8).run()
    second.number_input(key="zi_steps").set_value(2).run()
    second.number_input(key="zi_size").set_value(16).run()
    assert not second.exception and store.runs_started == started + 1  # nothing trained again
    assert any("ago for this class" in c.value for c in second.caption)
    shown = json.loads(next(c for c in second.get("plotly_chart") if c.key == "zi_curves").proto.spec)
    assert shown["data"] == curves["data"]
    second.button(key="zi_reseed").click().run()  # a run of its own, with a new seed
    assert not second.exception and store.runs_started == started + 2


def _captions(at) -> list[str]:
    return [c.value for c in at.caption]


@pytest.mark.usefixtures("made_up_costs")
def test_defaults_scale_with_the_model_and_each_button_says_how_long() -> None:
    """Issue 23: every heavy study fits class time at the page's defaults, says how long before it
    is pressed, and trains a 4-class head."""
    resnet18, resnet152 = PRESETS["resnet18"], PRESETS["resnet152"]
    at = open_app("zero_init", timeout=300, model="resnet18")
    settings = [at.number_input(key=k).value for k in ("zi_steps", "zi_batch", "zi_size")]
    assert settings == [60, 32, 64]
    assert any("A 4-class head replaces its 1000-way fc" in c for c in _captions(at))
    twin_estimate = estimate_text([made_up_cost(resnet18)] * 2, TrainingRun.of(twins(resnet18), 60, 32, 0.02, 0, 64))
    assert twin_estimate in _captions(at)
    models = degradation_models(cifar_resnet(20), cifar_resnet(56))
    deg = [at.number_input(key=k).value for k in ("zi_deg_steps", "zi_deg_batch")]
    deg_costs = [made_up_cost(spec) for spec in models.values()]
    assert estimate_text(deg_costs, TrainingRun.of(models, *deg, 0.02, 0, 32)) in _captions(at)
    at.number_input(key="zi_steps").set_value(30).run()  # the estimate follows the settings
    shorter = estimate_text([made_up_cost(resnet18)] * 2, TrainingRun.of(twins(resnet18), 30, 32, 0.02, 0, 64))
    assert shorter in _captions(at) and twin_estimate not in _captions(at)
    at.selectbox(key="model_preset").set_value("resnet152").run()
    assert not at.exception
    heavy = [at.number_input(key=k).value for k in ("zi_steps", "zi_batch", "zi_size")]
    assert heavy == [60, 32, 32]  # six times the MACs: smaller pictures, fitting the same minute
    assert estimate_text([made_up_cost(resnet152)] * 2,
                         TrainingRun.of(twins(resnet152), heavy[0], heavy[1], 0.02, 0, heavy[2])) in _captions(at)


def test_the_summary_reads_the_curves_ends_and_each_net_keeps_its_colour() -> None:
    at = open_app("zero_init", timeout=300, model="cifar_resnet20")
    at.selectbox(key="zi_deep").set_value(32).run()
    at.number_input(key="zi_deg_steps").set_value(SUMMARY_WINDOW + 2).run()
    at.number_input(key="zi_deg_batch").set_value(8).run()
    at.button(key="zi_deg_train").click().run()
    assert not at.exception
    charts = {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    losses = [t for t in charts["zi_deg_curves"]["data"] if t.get("showlegend", True)]
    accuracies = [t for t in charts["zi_deg_curves"]["data"] if not t.get("showlegend", True)]
    (summary,) = [c for c in _captions(at) if c.startswith("Where the runs end")]
    for loss, accuracy in zip(losses, accuracies, strict=True):
        late_loss = sum(loss["y"][-SUMMARY_WINDOW:]) / SUMMARY_WINDOW
        late_accuracy = sum(accuracy["y"][-SUMMARY_WINDOW:]) / SUMMARY_WINDOW
        assert f"{loss['name']} loss {late_loss:.3f}, accuracy {late_accuracy:.0%}" in summary
    colour = {t["name"]: t["line"]["color"] for t in losses}
    gradients = {t["name"]: t["line"]["color"] for t in charts["zi_plain_gradients"]["data"]}
    assert set(gradients) == {"plain-32", "ResNet-32"}
    assert gradients == {name: colour[name] for name in gradients}
    assert len(set(colour.values())) == 4
