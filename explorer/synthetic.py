"""A classification task drawn in code, and a short, deterministic training loop.

Used where real data cannot be downloaded: tests train their own checkpoints, and the
zero_init_residual study trains twin models. Class k is a shape (disc, square, triangle,
cross, ...); with ``colour_cue`` each class also has its own colour, which makes the task
easy (a test checkpoint learns it in seconds); without it, colours are random and the
network must look at the shape.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw
from torch import nn

SHAPES = ("disc", "square", "triangle", "cross")
CUE_COLOURS = ((220, 40, 40), (40, 70, 220), (40, 170, 60), (230, 200, 40))
COLOUR_NAMES = ("red", "blue", "green", "yellow")


def class_names(num_classes: int, colour_cue: bool = True) -> tuple[str, ...]:
    """Human names of the classes: "red disc", "blue square", ... (or just the shapes)."""
    if not 2 <= num_classes <= len(SHAPES):
        raise ValueError(f"The shapes task has 2 to {len(SHAPES)} classes, not {num_classes}.")
    return tuple(f"{COLOUR_NAMES[k]} {SHAPES[k]}" if colour_cue else SHAPES[k] for k in range(num_classes))


def draw_shape(label: int, size: int, rng: random.Random, colour_cue: bool = True) -> Image.Image:
    """One picture of class ``label``: a shape of random size and position on a noisy background."""
    background = tuple(rng.randint(170, 255) for _ in range(3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    for _ in range(size // 2):  # speckle noise, so colour alone is not a pixel-exact cue
        x, y = rng.randrange(size), rng.randrange(size)
        draw.point((x, y), fill=tuple(rng.randint(120, 255) for _ in range(3)))
    colour = CUE_COLOURS[label] if colour_cue else tuple(rng.randint(0, 150) for _ in range(3))
    radius = rng.uniform(0.18, 0.3) * size
    cx, cy = (rng.uniform(0.35, 0.65) * size for _ in range(2))
    box = (cx - radius, cy - radius, cx + radius, cy + radius)
    shape = SHAPES[label]
    if shape == "disc":
        draw.ellipse(box, fill=colour)
    elif shape == "square":
        draw.rectangle(box, fill=colour)
    elif shape == "triangle":
        draw.polygon([(cx, cy - radius), (cx - radius, cy + radius), (cx + radius, cy + radius)], fill=colour)
    else:
        bar = radius / 3
        draw.rectangle((cx - radius, cy - bar, cx + radius, cy + bar), fill=colour)
        draw.rectangle((cx - bar, cy - radius, cx + bar, cy + radius), fill=colour)
    return image


def shapes_images(count: int, size: int = 40, num_classes: int = 2, seed: int = 0,
                  colour_cue: bool = True) -> tuple[list[Image.Image], list[int]]:
    """``count`` pictures with balanced labels, the same for the same seed."""
    rng = random.Random(seed)
    labels = [i % num_classes for i in range(count)]
    rng.shuffle(labels)
    return [draw_shape(label, size, rng, colour_cue) for label in labels], labels


@dataclass(frozen=True)
class TrainStep:
    """One optimisation step."""

    step: int
    loss: float
    accuracy: float  # on this step's batch


def train(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, steps: int, batch_size: int = 32,
          lr: float = 0.05, seed: int = 0, on_step: Callable[[TrainStep], bool | None] | None = None,
          warmup: int = 10) -> list[TrainStep]:
    """SGD with momentum on ``inputs`` (N, C, H, W); the same batches for the same seed.

    The learning rate rises linearly over the first ``warmup`` steps, as He et al. (2016)
    warm up their deepest CIFAR nets, so a deep net does not diverge in its first steps.
    ``on_step`` sees every step and may return False to stop early (a stop button).
    The model is trained in place and left in eval mode.
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / max(warmup, 1)))
    device = next(model.parameters()).device
    history: list[TrainStep] = []
    model.train()
    try:
        for step in range(steps):
            batch = torch.randint(0, len(inputs), (min(batch_size, len(inputs)),), generator=generator)
            x, y = inputs[batch].to(device), labels[batch].to(device)  # (B, C, H, W), (B,)
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            record = TrainStep(step, float(loss.detach()), float((logits.argmax(1) == y).float().mean()))
            history.append(record)
            if not math.isfinite(record.loss) or (on_step is not None and on_step(record) is False):
                break
    finally:
        model.eval()
    return history

