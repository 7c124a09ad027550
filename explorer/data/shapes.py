"""A classification task drawn in code: shapes on a noisy background.

Used where real data cannot be downloaded: tests train their own checkpoints, and the
zero_init_residual and degradation studies train on it. Class k is a shape (disc, square,
triangle, cross); with ``colour_cue`` each class also has its own colour, which makes the
task easy (a test checkpoint learns it in seconds); without it, colours are random and the
network must look at the shape.
"""

from __future__ import annotations

import random

import torch
from PIL import Image, ImageDraw

from explorer.runtime.i18n import N_, _
from explorer.data.images import Preprocessing, preprocess

# The class names are data (a test checkpoint saves them); a page shows a shape through `_()`.
SHAPES = (N_("disc"), N_("square"), N_("triangle"), N_("cross"))
CUE_COLOURS = ((220, 40, 40), (40, 70, 220), (40, 170, 60), (230, 200, 40))
COLOUR_NAMES = ("red", "blue", "green", "yellow")


def class_names(num_classes: int, colour_cue: bool = True) -> tuple[str, ...]:
    """Human names of the classes: "red disc", "blue square", ... (or just the shapes)."""
    if not 2 <= num_classes <= len(SHAPES):
        raise ValueError(_("The shapes task has 2 to {most} classes, not {count}.").format(most=len(SHAPES),
                                                                                           count=num_classes))
    return tuple(f"{COLOUR_NAMES[k]} {SHAPES[k]}" if colour_cue else SHAPES[k] for k in range(num_classes))


def draw_shape(label: int, size: int, rng: random.Random, colour_cue: bool = True) -> Image.Image:
    """One picture of class ``label``: a shape of random size and position on a noisy background."""
    background = tuple(rng.randint(170, 255) for _ in range(3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    for _speck in range(size // 2):  # speckle noise, so colour alone is not a pixel-exact cue
        x, y = rng.randrange(size), rng.randrange(size)
        draw.point((x, y), fill=tuple(rng.randint(120, 255) for _channel in range(3)))
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


def task_class_count(num_classes: int) -> int:
    """Classes of the shapes task for a model with ``num_classes`` outputs (2 to 4)."""
    return max(2, min(num_classes, len(SHAPES)))


def task_classes(num_classes: int) -> tuple[str, ...]:
    """Names of the shapes task's classes for a model with ``num_classes`` outputs."""
    return class_names(task_class_count(num_classes), colour_cue=False)


def task_batch(count: int, input_size: int, num_classes: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Shapes pictures (no colour cue), preprocessed at ``input_size``: (N, 3, S, S) and labels."""
    pictures, labels = shapes_images(count, size=round(input_size * 1.15), num_classes=task_class_count(num_classes),
                                     seed=seed, colour_cue=False)
    settings = Preprocessing.for_size(input_size)
    return torch.stack([preprocess(p, settings).tensor for p in pictures]), torch.tensor(labels) % max(num_classes, 1)
