"""The pre-activation study (He et al. 2016b): post- against pre-activation, in the library and on the page."""

from __future__ import annotations

import json

import pytest
import torch

from explorer.data.shapes import task_batch
from explorer.model.build import build_model
from explorer.model.kinds import Block
from explorer.model.presets import PRESETS
from explorer.runtime.memory import DoesNotFit
from explorer.studies.preactivation import (
    BlockSignal, activation_study, activation_twins, aligned_gradients, gradient_text, preact_spec, signal_series,
    signal_text, signal_through_depth,
)
from explorer.studies.training import LayerGradient, gradient_norms, with_task_head
from tests.conftest import APP
from tests.test_zero_init import made_up_costs  # noqa: F401  (a fixture)


def test_the_papers_cifar_nets_and_their_post_activation_twins() -> None:
    assert preact_spec(164) == PRESETS["cifar_preact_resnet164"]
    assert preact_spec(1001) == PRESETS["cifar_preact_resnet1001"]
    assert preact_spec(110).block is Block.BASIC and preact_spec(110).depth == 110
    twins = activation_twins(preact_spec(164))
    assert list(twins) == ["post-activation-164", "pre-activation-164"]
    post, pre = twins.values()
    assert not post.preact and pre.preact and post.with_changes(preact=True) == pre


def _mean_square(t: torch.Tensor) -> float:
    return float(t.double().pow(2).mean())


@pytest.mark.parametrize("preact", [False, True])
def test_the_signal_is_each_blocks_own_input_branch_and_output(preact: bool) -> None:
    """The mean squares equal those of a forward pass done by hand, block by block; in the
    pre-activation net a block without a projection outputs its input plus its branch."""
    spec = preact_spec(29, Block.BOTTLENECK).with_changes(preact=preact, stages=(2, 2, 1))
    inputs, _ = task_batch(4, 16, 10, seed=1)
    signals = signal_through_depth(spec, 5, inputs)
    model = build_model(spec, seed=5).train()
    with torch.no_grad():
        x = model.maxpool(model.conv1(inputs) if preact else model.relu(model.bn1(model.conv1(inputs))))
        blocks = [block for stage in (model.layer1, model.layer2, model.layer3) for block in stage]
        for signal, block in zip(signals, blocks, strict=True):
            out = block(x.clone())
            assert signal.input_square == _mean_square(x)
            assert signal.output_square == pytest.approx(_mean_square(out), rel=1e-6)
            if preact and block.downsample is None:
                assert signal.branch_square == pytest.approx(_mean_square(out - x), rel=1e-3)
            x = out
    assert [s.projection for s in signals] == [True, False, True, False, True]


def test_the_study_measures_both_twins_on_one_batch() -> None:
    spec = preact_spec(20).with_changes(stages=(2, 1, 1))
    study = activation_study(spec, seed=2, batch_size=4)
    inputs, labels = task_batch(4, 32, 4, seed=2)
    twins = activation_twins(with_task_head(spec))
    assert study.gradients == {label: gradient_norms(s, 2, inputs, labels) for label, s in twins.items()}
    assert study.signals == {label: signal_through_depth(s, 2, inputs) for label, s in twins.items()}
    assert study.signals["post-activation-10"] != study.signals["pre-activation-10"]


def test_depth_1001_is_refused_before_anything_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer.runtime import memory
    from explorer.runtime.memory import MemoryLimit
    from explorer.studies import preactivation

    monkeypatch.setattr(memory, "device_memory", lambda device: MemoryLimit(200 * 2**20, 8 * 2**30, "cgroup v2"))
    monkeypatch.setattr(preactivation, "build_model", lambda *a, **k: pytest.fail("built a model"))
    with pytest.raises(DoesNotFit, match=r"Training cifar_resnet1001 .* at 32x32 with batch 32 needs about"):
        activation_study(preact_spec(1001), seed=0, batch_size=32)


def _signals(label: str, squares: list[tuple[str, float]]) -> tuple[BlockSignal, ...]:
    return tuple(BlockSignal(name, False, 1.0, 0.5, square) for name, square in squares)


def test_the_words_are_read_off_the_numbers() -> None:
    signals = {"post-activation-8": _signals("post", [("layer1.0", 1.0), ("layer1.1", 3.0), ("layer2.0", 2.0),
                                                      ("layer2.1", 2.5)]),
               "pre-activation-8": _signals("pre", [("layer1.0", 0.5), ("layer1.1", 4.0), ("layer2.0", 1.0),
                                                    ("layer2.1", 1.5)])}
    assert signal_text(signals) == (
        "Mean square of the block outputs at initialisation — post-activation-8: 1 at layer1.0, 2.5 at layer2.1, "
        "largest 3 at layer1.1; within a stage at most ×3 from its first block to its last; pre-activation-8: 0.5 "
        "at layer1.0, 1.5 at layer2.1, largest 4 at layer1.1; within a stage at most ×8 from its first block to its "
        "last.")
    assert list(signal_series(signals)) == ["post-activation-8: block output", "post-activation-8: branch F(x)",
                                           "pre-activation-8: block output", "pre-activation-8: branch F(x)"]
    gradients = {"post-activation-8": (LayerGradient("conv1", 50.0), LayerGradient("layer1.0.conv2", 0.5),
                                       LayerGradient("fc", 9.0)),
                 "pre-activation-8": (LayerGradient("conv1", 2.0), LayerGradient("layer1.0.conv2", 0.1),
                                      LayerGradient("fc", 9.0))}
    text = gradient_text(gradients, {"pre-activation-8": "预激活-8"})
    assert text == ("Gradient norm of the first conv against the last one at initialisation — post-activation-8: 50 "
                    "at conv1, 0.5 at layer1.0.conv2 (×100); 预激活-8: 2 at conv1, 0.1 at layer1.0.conv2 (×20). "
                    "Relative to its last layer, post-activation-8's first layer gets the larger gradient.")
    gradients["pre-activation-8"] = (LayerGradient("conv1", 200.0), *gradients["pre-activation-8"][1:])
    assert gradient_text(gradients).endswith("pre-activation-8's first layer gets the larger gradient.")


def test_both_nets_share_one_axis_of_layers() -> None:
    gradients = {"post": (LayerGradient("layer2.0.conv1", 1.0), LayerGradient("layer2.0.downsample.0", 2.0)),
                 "pre": (LayerGradient("layer2.0.conv1", 3.0), LayerGradient("layer2.0.downsample.conv", 4.0))}
    assert aligned_gradients(gradients) == (["layer2.0.conv1", "layer2.0.downsample"],
                                            {"post": [1.0, 2.0], "pre": [3.0, 4.0]})
    gradients["pre"] = gradients["pre"][:1]
    with pytest.raises(ValueError, match="do not have the same layers"):
        aligned_gradients(gradients)
    study = activation_study(preact_spec(20).with_changes(stages=(1, 1, 1)), seed=0, batch_size=2)
    names, norms = aligned_gradients(study.gradients)
    assert "layer2.0.downsample" in names and all(len(v) == len(names) for v in norms.values())


def open_zero_init(model: str, **state: object):
    """The zero_init page for ``model`` in the sidebar, with ``state`` set before the page first runs
    (the pre-activation study at a small depth, so the page opens quickly)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=300)
    at.query_params["model"] = model
    at.run()
    for key, value in state.items():
        at.session_state[key] = value
    at.switch_page("../pages/zero_init.py").run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize(("model", "zeroed"), [
    ("resnetv2_50", "- `layer1.0.conv3.weight` … `layer4.2.conv3.weight` (16 × `PreActBottleneck`): the weight of "
                    "the branch's last conv"),
    ("seresnet50", "- `layer1.0.bn3.weight` … `layer4.2.bn3.weight` (16 × `SpecBottleneck`): γ of the branch's last "
                   "BatchNorm, which then outputs β = 0; it comes before the SqueezeExcitation gate"),
    ("cifar_preact_resnet164", "- `layer1.0.conv3.weight` … `layer3.17.conv3.weight` (54 × `PreActBottleneck`)"),
])
@pytest.mark.usefixtures("made_up_costs")
def test_the_page_opens_for_the_family_and_names_what_is_zeroed(model: str, zeroed: str) -> None:
    at = open_zero_init(model, zi_pre_depth=20, zi_pre_open=True)
    (listing,) = [m.value for m in at.markdown if "the flag zeroes:" in m.value]
    assert zeroed in listing
    identity = next(d.value for d in at.dataframe if "identity, flag on" in d.value.columns)
    assert set(identity["shortcut alone, flag on"]) == {"✓ exactly"}
    keys = {c.key for c in at.get("plotly_chart")}
    assert {"zi_ratio", "zi_gradients", "zi_plain_gradients", "zi_pre_signal", "zi_pre_gradients"} <= keys


@pytest.mark.usefixtures("made_up_costs")
def test_the_pre_activation_study_on_the_page_trains_and_refuses_what_does_not_fit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    at = open_zero_init("cifar_resnet20", zi_pre_depth=20, zi_pre_open=True)
    at.number_input(key="zi_pre_steps").set_value(3).run()
    at.number_input(key="zi_pre_batch").set_value(8).run()
    charts = {c.key: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    signal = {t["name"] for t in charts["zi_pre_signal"]["data"]}
    assert signal == {"post-activation-20: block output", "post-activation-20: branch F(x)",
                      "pre-activation-20: block output", "pre-activation-20: branch F(x)"}
    gradients = charts["zi_pre_gradients"]["data"]
    study = activation_study(preact_spec(20), seed=0, batch_size=8)
    assert [t["y"] for t in gradients] == [[g.norm for g in study.gradients[t["name"]]] for t in gradients]
    assert gradient_text(study.gradients) in [c.value for c in at.caption]
    at.button(key="zi_pre_train").click().run()
    assert not at.exception
    curves = json.loads(next(c for c in at.get("plotly_chart") if c.key == "zi_pre_curves").proto.spec)
    losses = [t for t in curves["data"] if t.get("showlegend", True)]
    assert {t["name"]: len(t["x"]) for t in losses} == {"post-activation-20": 3, "pre-activation-20": 3}
    assert {t["name"]: t["line"]["color"] for t in losses} == {t["name"]: t["line"]["color"] for t in gradients}

    from explorer.runtime import memory
    from explorer.runtime.memory import MemoryLimit

    monkeypatch.setattr(memory, "device_memory", lambda device: MemoryLimit(50 * 2**20, 8 * 2**30, "cgroup v2"))
    at.selectbox(key="zi_pre_depth").set_value(1001).run()
    assert not at.exception
    assert any("cifar_resnet1001" in e.value and "needs about" in e.value for e in at.error)


def test_the_signal_chart_keeps_each_nets_colour_and_dots_its_branch() -> None:
    from explorer.studies.preactivation import signal_styles

    colours, dashes = signal_styles({"post-activation-20": "#111111", "pre-activation-20": "#222222"})
    assert colours == {"post-activation-20: block output": "#111111", "post-activation-20: branch F(x)": "#111111",
                       "pre-activation-20: block output": "#222222", "pre-activation-20: branch F(x)": "#222222"}
    assert dashes == {"post-activation-20: branch F(x)": "dot", "pre-activation-20: branch F(x)": "dot"}
