"""The degradation study: plain vs residual nets, in the library and on the command line."""

from __future__ import annotations

from explorer.cli import main
from explorer.studies.degradation import degradation_models, initial_gradients
from explorer.model.presets import PRESETS, cifar_resnet
from explorer.data.shapes import task_batch
from explorer.model.kinds import Shortcut
from explorer.studies.training import gradient_norms, summarize, train_models


def test_plain_and_residual_versions_of_each_depth() -> None:
    models = degradation_models(cifar_resnet(20), cifar_resnet(32, shortcut="none"), PRESETS["resnet18"])
    assert list(models) == ["plain-20", "ResNet-20", "plain-32", "ResNet-32", "plain-18", "ResNet-18"]
    assert [s.shortcut for s in models.values()] == [Shortcut.NONE, Shortcut.A] * 2 + [Shortcut.NONE, Shortcut.B]
    assert models["ResNet-32"] == cifar_resnet(32)


def test_the_residual_net_trains_better_than_the_plain_one_at_depth_56() -> None:
    """He et al.'s degradation: after warm-up, plain-56's loss stays above ResNet-56's (the
    direction this run shows: mean loss over steps 10-30, seed 0, batch 32)."""
    models = degradation_models(cifar_resnet(56))
    histories = train_models(models, steps=30, batch_size=32, lr=0.02, seed=0, input_size=32)
    after_warmup = {k: sum(s.loss for s in h[10:30]) / 20 for k, h in histories.items()}
    assert after_warmup["ResNet-56"] < after_warmup["plain-56"]


def test_initial_gradients_use_the_specs_input_size_and_classes() -> None:
    spec = cifar_resnet(8, num_classes=3)
    gradients = initial_gradients(spec, seed=2, batch_size=4)
    inputs, labels = task_batch(4, 32, 3, seed=2)  # CIFAR: 32 px
    assert gradients == {
        "plain-8": gradient_norms(spec.with_changes(shortcut=Shortcut.NONE), 2, inputs, labels),
        "ResNet-8": gradient_norms(spec, 2, inputs, labels),
    }
    assert gradients["plain-8"] != gradients["ResNet-8"]


def test_the_command_prints_what_the_library_trains(capsys) -> None:
    args = ["degradation", "--shallow", "8", "--deep", "14", "--steps", "3", "--lr", "0.05", "--batch", "8",
            "--seed", "4", "--input", "16"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "settings: input 16x16, 3 steps, lr 0.05, batch 8, seed 4, 512 pictures" in out
    histories = train_models(degradation_models(cifar_resnet(8), cifar_resnet(14)), 3, batch_size=8, lr=0.05, seed=4,
                             input_size=16)
    rows = {line.split()[0]: line.split() for line in out.splitlines()[4:]}
    assert list(rows) == ["plain-8", "ResNet-8", "plain-14", "ResNet-14"]
    for label, history in histories.items():
        summary = summarize(label, history)
        assert rows[label][1:] == ["3", f"{summary.final_loss:.3f}", f"{summary.final_accuracy:.0%}",
                                   f"{summary.late_loss:.3f}", f"{summary.late_accuracy:.0%}"]
    assert main(args) == 0
    assert capsys.readouterr().out == out  # deterministic for a seed


def test_the_command_explains_bad_settings(capsys) -> None:
    for args, message in [(["--deep", "21"], "the nearest are 20 and 26"), (["--steps", "0"], "--steps must be at least 1"),
                          (["--input", "2", "--steps", "1"], "must be at least 4 pixels")]:
        assert main(["degradation", *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err, (args, err)
