"""What a piece of work needs in memory, from the layer table, reserved while it runs.

Every path that allocates with a user's choice (model, input size, batch, number of
pictures) asks here before it allocates anything: the layer table (meta device, no weights,
no compute) gives the parameters' bytes and one image's activations (float32, every layer
output); the need is a multiple of each, and `RESERVATIONS` holds it while the work runs
or refuses with `DoesNotFit`, saying what to lower.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from explorer.analysis.anatomy import layer_table
from explorer.model.spec import ResNetSpec
from explorer.runtime.i18n import N_, _
from explorer.runtime.memory import RESERVATIONS, MemoryLimit

if TYPE_CHECKING:
    import torch

# What a refused request is told to lower, marked here and said in the reader's language when raised.
LOWER_SIZE = N_("Use a smaller input size or model.")
LOWER_PICTURES = N_("Use a smaller input size or model, or fewer pictures.")
LOWER_BATCH = N_("Use a smaller input size, a smaller model or a smaller batch.")


def memory_need(spec: ResNetSpec, input_size: int | tuple[int, int], batch: int = 1, params: float = 0.0,
                activations: float = 1.0, through: str | None = None) -> int:
    """Bytes of ``params`` times the parameters plus ``activations`` times ``batch`` images' activations
    (every layer output in float32, an upper bound for inference, what a backward keeps) and the inputs.

    ``through`` counts the activations of the stages up to that one only (a backward to the
    input from that stage's output).
    """
    table = layer_table(spec, input_size)
    totals = table.totals
    image_bytes = totals.activation_bytes
    if through is not None:
        names = [stage.name for stage in table.stages]
        image_bytes = sum(stage.activation_bytes for stage in table.stages[:names.index(through) + 1])
    height, width = totals.input_size
    inputs = batch * spec.in_channels * height * width * 4  # (N, C, H, W) float32
    return int(params * totals.param_bytes + activations * image_bytes * batch) + inputs


@contextmanager
def reserved(spec: ResNetSpec, input_size: int | tuple[int, int], device: str | torch.device, what: str, lower: str,
             batch: int = 1, params: float = 0.0, activations: float = 1.0, through: str | None = None,
             limit: MemoryLimit | None = None) -> Iterator[int]:
    """Hold `memory_need` on ``device`` while the block runs (its bytes are yielded), or raise
    `DoesNotFit` before the block, naming ``what`` and saying ``lower`` (an English msgid, said
    here in the reader's language). ``limit`` is read now unless given (tests give one)."""
    needed = memory_need(spec, input_size, batch, params, activations, through)
    with RESERVATIONS.reserve(needed, str(device), what, _(lower), limit=limit):
        yield needed


def refuse_if_too_big(spec: ResNetSpec, input_size: int | tuple[int, int], device: str | torch.device, what: str, lower: str,
               **need: float) -> None:
    """`reserved` for a moment: refuse now (`DoesNotFit`) work whose steps each hold their own
    reservation later, so that none of them starts when the largest would be refused."""
    with reserved(spec, input_size, device, what, lower, **need):
        pass


def size_text(input_size: int | tuple[int, int]) -> str:
    """ "224×224" for a side or (H, W)."""
    height, width = (input_size, input_size) if isinstance(input_size, int) else input_size
    return f"{height}×{width}"
