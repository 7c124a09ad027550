"""class_time.py: a run's time from timed steps scaled by MACs, and default settings that fit a lesson."""

from __future__ import annotations

import pytest

from explorer.model.presets import PRESETS, cifar_resnet
from explorer.model.spec import ResNetSpec
from explorer.studies.degradation import degradation_models
from explorer.studies.training import MIN_TRAIN_BATCH, TrainingRun
from explorer.studies.class_time import (
    CLASS_SECONDS, PROBE_BATCHES, StepCost, TrainingSettings, cost_basis, estimate_text, fitting_settings,
    forward_macs, measure_step_cost, model_costs, run_seconds, training_sizes,
)
from explorer.studies.zero_init import twins

RATE = 20e9  # MACs a second of a made-up server: the tests below never time anything


def made_up_cost(spec: ResNetSpec) -> StepCost:
    """What `measure_step_cost` would fit on a server doing `RATE` MACs a second, 20 ms a step besides."""
    return StepCost(cost_basis(spec), build_seconds=0.5, fixed_seconds=0.02, seconds_per_mac=1 / RATE, measured=())


def test_a_step_costs_its_fixed_part_plus_its_macs() -> None:
    cost = made_up_cost(PRESETS["resnet50"])
    macs = forward_macs(cost.spec, 64)
    assert cost.step_seconds(64, 16) == pytest.approx(0.02 + 16 * macs / RATE)
    assert cost.run_seconds(60, 64, 16) == pytest.approx(0.5 + 60 * cost.step_seconds(64, 16))
    settings = TrainingSettings(steps=60, batch_size=2, input_size=64)  # trained at the minimum batch, so costed at it
    assert run_seconds([cost, cost], settings) == pytest.approx(2 * cost.run_seconds(60, 64, MIN_TRAIN_BATCH))


def test_a_measured_cost_reproduces_its_larger_timed_step() -> None:
    cost = measure_step_cost(cifar_resnet(8))
    assert [(size, batch) for size, batch, _seconds in cost.measured] == [(32, b) for b in PROBE_BATCHES]
    assert cost.build_seconds > 0 and cost.seconds_per_mac > 0 and cost.fixed_seconds >= 0
    size, batch, seconds = cost.measured[-1]
    assert cost.step_seconds(size, batch) == pytest.approx(seconds)
    assert cost.spec == cost_basis(cifar_resnet(8)) and cost.spec.num_classes == 4


def test_twins_share_a_measurement_and_plain_nets_their_residual_twins() -> None:
    asked = []

    def cost_of(spec: ResNetSpec) -> StepCost:
        asked.append(spec)
        return made_up_cost(spec)

    assert len(model_costs(twins(PRESETS["resnet50"]), cost_of)) == 2 and len(asked) == 1
    asked.clear()
    costs = model_costs(degradation_models(cifar_resnet(20), cifar_resnet(56)), cost_of)
    assert [c.spec.depth for c in costs] == [20, 20, 56, 56]
    assert asked == [cost_basis(cifar_resnet(20)), cost_basis(cifar_resnet(56))]


def test_a_heavier_model_gets_lighter_defaults_that_still_fit() -> None:
    light, heavy = PRESETS["resnet18"], PRESETS["resnet152"]
    light_settings = fitting_settings([made_up_cost(light)] * 2, training_sizes(light))
    heavy_settings = fitting_settings([made_up_cost(heavy)] * 2, training_sizes(heavy))
    assert light_settings == TrainingSettings(60, 32, 64)  # the preferred settings when they fit
    assert heavy_settings == TrainingSettings(60, 32, 32)  # the picture size gives way first
    assert run_seconds([made_up_cost(heavy)] * 2, heavy_settings) <= CLASS_SECONDS
    assert run_seconds([made_up_cost(heavy)] * 2, TrainingSettings(60, 32, 48)) > CLASS_SECONDS
    slow = [StepCost(cost_basis(heavy), 0.5, 0.02, 10 / RATE, ())] * 2  # ten times slower: steps and batch go next
    assert fitting_settings(slow, training_sizes(heavy)) == TrainingSettings(20, MIN_TRAIN_BATCH, 32)
    slower = [StepCost(cost_basis(heavy), 0.5, 0.02, 3 / RATE, ())] * 2
    assert fitting_settings(slower, training_sizes(heavy)) == TrainingSettings(40, 16, 32)
    assert fitting_settings(None, training_sizes(heavy)) == TrainingSettings(20, MIN_TRAIN_BATCH, 32)  # nothing measured


def test_training_sizes_stay_within_the_models_input_and_stride() -> None:
    assert training_sizes(PRESETS["resnet50"]) == (64, 48, 32)
    assert training_sizes(cifar_resnet(56)) == (32,)
    assert training_sizes(PRESETS["resnet50"].with_changes(dilate=(False, False, True))) == (64, 48, 32)


def test_the_estimate_says_the_total_and_one_step() -> None:
    run = TrainingRun.of(twins(PRESETS["resnet18"]), steps=60, batch_size=16, lr=0.02, seed=0, input_size=32)
    cost = made_up_cost(PRESETS["resnet18"])
    step_ms = cost.step_seconds(32, 16) * 1000
    total = 2 * cost.run_seconds(60, 32, 16)
    assert estimate_text([cost, cost], run) == (
        f"≈ {total:.0f} s on this server (2 models × 60 steps; one step ≈ {step_ms:.0f} ms, from steps measured here)")
    long = TrainingRun.of(twins(PRESETS["resnet18"]), steps=2000, batch_size=16, lr=0.02, seed=0, input_size=32)
    assert estimate_text([cost, cost], long).startswith(f"≈ {2 * cost.run_seconds(2000, 32, 16) / 60:.0f} min")
    models = degradation_models(cifar_resnet(20), cifar_resnet(56))
    costs = [made_up_cost(spec) for spec in models.values()]
    text = estimate_text(costs, TrainingRun.of(models, 60, 32, 0.02, 0, 32))
    assert "4 models × 60 steps; one step ≈ " in text and "–" in text  # 20 and 56 layers: a range
