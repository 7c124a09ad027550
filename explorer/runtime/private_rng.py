"""Seeded randomness that belongs to one thread: a private ``torch.Generator`` for any torch code.

Sessions run in threads of one process, and torch's global generator is shared by all of
them: seeding it in one session changes what another session draws. Code we do
not own (torch's module constructors and ``nn.init``, torchvision's augmentation transforms)
draws from that global generator without a way to pass ours. `private_rng` closes the gap
with a ``TorchFunctionMode``: while it is active, every torch call *in this thread* that
accepts a ``generator`` and was given none gets the private one. Modes are thread-local, so
other threads and the global generator are untouched.

A seed then gives the same numbers as seeding the global generator with it would (a fresh
CPU ``torch.Generator`` seeded alike yields the same stream), so a seeded ``build_model``
still equals torchvision's model built after a global seed, weight for weight.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch.overrides import TorchFunctionMode

# Random builtins whose signature inspect cannot read; each accepts ``generator=``.
_RANDOM_BUILTINS = frozenset({
    torch.rand, torch.randn, torch.randint, torch.randperm, torch.normal, torch.bernoulli, torch.multinomial,
    torch.poisson, torch._sample_dirichlet, torch._standard_gamma,
    torch.Tensor.uniform_, torch.Tensor.normal_, torch.Tensor.random_, torch.Tensor.bernoulli_,
    torch.Tensor.bernoulli, torch.Tensor.multinomial, torch.Tensor.exponential_, torch.Tensor.geometric_,
    torch.Tensor.log_normal_, torch.Tensor.cauchy_,
})


@functools.cache
def _takes_generator(func: object) -> bool:
    try:
        return "generator" in inspect.signature(func).parameters  # nn.init.kaiming_normal_, ...
    except (TypeError, ValueError):
        return func in _RANDOM_BUILTINS


class _PrivateGenerator(TorchFunctionMode):
    """Hands ``generator`` to every call in this thread that takes one and got none."""

    def __init__(self, generator: torch.Generator) -> None:
        super().__init__()
        self.generator = generator

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if kwargs.get("generator") is None and _takes_generator(func):
            kwargs["generator"] = self.generator
        return func(*args, **kwargs)


@contextmanager
def private_rng(seed: int | None) -> Iterator[torch.Generator]:
    """Inside, random torch calls of this thread draw from a CPU generator seeded with ``seed``
    (a fresh non-deterministic seed for None)."""
    generator = torch.Generator()
    if seed is None:
        generator.seed()
    else:
        generator.manual_seed(seed)
    with _PrivateGenerator(generator):
        yield generator
