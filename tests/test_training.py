"""training.py and shapes_task.py: the loop is deterministic, stoppable and summarized exactly."""

from __future__ import annotations

import pytest

from explorer.model.presets import cifar_resnet
from explorer.runtime.progress import RunStopped, shown
from explorer.data.shapes import task_batch, task_classes
from explorer.studies.training import (
    MIN_TRAIN_BATCH, SUMMARY_WINDOW, TrainStep, summarize, summary_text, train_models,
)
from explorer.studies.zero_init import twins


def test_training_is_deterministic_for_a_seed() -> None:
    specs = twins(cifar_resnet(20))
    first = train_models(specs, steps=4, batch_size=8, lr=0.02, seed=5, input_size=16, examples=32)
    again = train_models(specs, steps=4, batch_size=8, lr=0.02, seed=5, input_size=16, examples=32)
    assert first == again
    other = train_models(specs, steps=4, batch_size=8, lr=0.02, seed=6, input_size=16, examples=32)
    assert other != first


def test_progress_reports_every_step_and_raising_run_stopped_stops_every_model() -> None:
    specs = twins(cifar_resnet(20))
    first, second = specs
    seen = []

    def stop_after_three(fraction: float, text, partial) -> None:
        seen.append((fraction, shown(text), {label: len(h) for label, h in partial.items()}))
        if len(seen) == 3:
            raise RunStopped(RunStopped.MESSAGE)

    with pytest.raises(RunStopped):
        train_models(specs, steps=10, batch_size=8, seed=0, input_size=16, examples=32, progress=stop_after_three)
    assert [fraction for fraction, _text, _curves in seen] == [1 / 20, 2 / 20, 3 / 20]
    assert seen[-1][1].startswith(f"{first}: step 3/10, loss ")
    assert seen[-1][2] == {first: 3, second: 0}  # the second model never started


def test_batches_below_the_minimum_are_raised_to_it() -> None:
    specs = {"net": cifar_resnet(8)}
    tiny = train_models(specs, steps=2, batch_size=2, seed=0, input_size=16, examples=32)
    minimum = train_models(specs, steps=2, batch_size=MIN_TRAIN_BATCH, seed=0, input_size=16, examples=32)
    assert tiny == minimum


def test_a_summary_reads_where_a_run_ends() -> None:
    history = [TrainStep(i, loss=2.0 - 0.1 * i, accuracy=0.05 * i) for i in range(15)]
    summary = summarize("net", history)
    assert (summary.label, summary.steps) == ("net", 15)
    assert summary.final_loss == pytest.approx(0.6) and summary.final_accuracy == pytest.approx(0.7)
    assert SUMMARY_WINDOW == 10
    assert summary.late_loss == pytest.approx(2.0 - 0.1 * 9.5)  # steps 5-14
    assert summary.late_accuracy == pytest.approx(0.05 * 9.5)
    assert summary.late_loss < history[0].loss  # a run that learned reads as one
    short = summarize("short", history[:3])
    assert short.late_loss == pytest.approx(1.9) and short.late_accuracy == pytest.approx(0.05)
    with pytest.raises(ValueError, match="ran no step"):
        summarize("none", [])


def test_the_summary_text_says_which_run_ends_lower() -> None:
    """Issue 23: a run whose early steps are worse but which ends lower must read as ending lower
    (a mean over the first steps said the opposite of the curves)."""
    falls = [TrainStep(i, loss=2.3 - 0.03 * i, accuracy=0.25 + 0.01 * i) for i in range(60)]  # ends near 0.5
    stalls = [TrainStep(i, loss=2.0 if i < 10 else 1.4, accuracy=0.3) for i in range(60)]  # better early, ends 1.4
    text = summary_text({"plain-20": falls, "plain-56": stalls})
    assert text == ("Where the runs end (mean of the last 10 steps): plain-20 loss 0.665, accuracy 80%; "
                    "plain-56 loss 1.400, accuracy 30%")
    assert "(3 steps)" in summary_text({"short": falls[:3]})


def test_the_task_has_two_to_four_balanced_classes() -> None:
    assert task_classes(10) == ("disc", "square", "triangle", "cross") and task_classes(1) == ("disc", "square")
    inputs, labels = task_batch(12, 16, 3, seed=1)
    assert inputs.shape == (12, 3, 16, 16)
    assert sorted(labels.tolist()) == [0] * 4 + [1] * 4 + [2] * 4
