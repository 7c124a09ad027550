"""Nothing shared is random: a seed gives the same tensors whatever other sessions do at once."""

from __future__ import annotations

import threading
from functools import partial

import numpy as np
import torch
import torchvision

from explorer.model.build import build_model
from explorer.data.images import AUGMENT_POLICIES, augmentation_samples
from explorer.model.presets import get_preset
from explorer.runtime.private_rng import private_rng
from tests.conftest import run_together
from tests.images_corpus import photo


def weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [t.clone() for t in model.state_dict().values()]


def same(a: list[torch.Tensor], b: list[torch.Tensor]) -> bool:
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def test_a_private_seed_draws_what_the_global_seed_would_and_leaves_it_alone() -> None:
    state = torch.get_rng_state()
    with private_rng(3):
        mine = weights(torchvision.models.resnet18())
    assert torch.equal(state, torch.get_rng_state())
    generator = torch.Generator().manual_seed(3)
    assert torch.equal(torch.randn(5, generator=generator), torch.randn(5, generator=torch.Generator().manual_seed(3)))
    torch.manual_seed(3)  # the test's own thread; the library never does this
    assert same(mine, weights(torchvision.models.resnet18()))


def test_augmentation_previews_leave_the_global_generator_alone() -> None:
    state = torch.get_rng_state()
    for policy in AUGMENT_POLICIES:
        augmentation_samples(photo(300, 200), 2, seed=1, policy=policy, crop=64)
    assert torch.equal(state, torch.get_rng_state())


def test_seeded_builds_and_previews_are_right_while_other_sessions_draw_at_once() -> None:
    """8 threads build resnet18 with seeds 0-3 while 4 draw previews and 2 spin the global RNG."""
    spec = get_preset("resnet18")
    alone = {seed: weights(build_model(spec, seed=seed)) for seed in range(4)}
    picture = photo(300, 200)
    previews_alone = [np.asarray(v) for v in augmentation_samples(picture, 3, seed=5, policy="RandAugment", crop=96)]

    def build(seed: int) -> list[tuple[int, list[torch.Tensor]]]:
        return [(seed, weights(build_model(spec, seed=seed))) for _ in range(3)]

    def preview() -> list[list[np.ndarray]]:
        return [[np.asarray(v) for v in augmentation_samples(picture, 3, seed=5, policy="RandAugment", crop=96)]
                for _ in range(3)]

    def spin(done: threading.Event) -> None:
        while not done.is_set():
            torch.manual_seed(99)  # a careless other session
            torch.rand(1000)

    results = run_together(*(partial(build, i % 4) for i in range(8)), *[preview] * 4, meanwhile=[spin] * 2)
    built = [pair for result in results[:8] for pair in result]
    previews = [p for result in results[8:] for p in result]
    assert len(built) == 24 and all(same(w, alone[seed]) for seed, w in built)
    assert len(previews) == 12 and all(
        all((a == b).all() for a, b in zip(p, previews_alone)) for p in previews)
