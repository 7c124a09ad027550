"""Pictures as pixels (numpy and PIL, no plotly figure): filter tiles, the map mosaic PNG, heat
overlays and the receptive-field picture."""

from __future__ import annotations

import functools
import io
import math

import numpy as np
from PIL import Image, ImageDraw
from plotly.colors import sample_colorscale

from explorer.analysis.colour_scale import ColourScale
from explorer.analysis.receptive_field import InputBox
from explorer.figures.maps import mosaic, scaled_maps

RF_BOX_COLOUR = (0, 229, 255)  # the theoretical box: cyan, apart from the field's reds
RF_SQUARE_COLOUR = (255, 255, 255)  # the effective square
RF_PICTURE_SIDE = 448  # pictures are enlarged to about this many pixels, so the lines stay thin


@functools.cache
def colour_table(name: str) -> np.ndarray:
    """A plotly colour scale sampled at 256 steps: (256, 3) uint8, read-only (one per name, shared by every call)."""
    colours = sample_colorscale(name, list(np.linspace(0, 1, 256)))
    table = np.array([[int(float(v)) for v in c[c.index("(") + 1:-1].split(",")] for c in colours], dtype=np.uint8)
    table.flags.writeable = False
    return table


def filter_tiles(weight: np.ndarray, upscale: int = 6) -> np.ndarray:
    """First-layer filters (N, 3, k, k) as RGB tiles, each stretched to [0, 1]: (rows·k', cols·k', 3) uint8."""
    count, _channels, k, _k = weight.shape
    low = weight.min(axis=(1, 2, 3), keepdims=True)
    high = weight.max(axis=(1, 2, 3), keepdims=True)
    tiles = (weight - low) / np.where(high > low, high - low, 1.0)  # (N, 3, k, k) in [0, 1]
    tiles = np.repeat(np.repeat(tiles, upscale, axis=2), upscale, axis=3).transpose(0, 2, 3, 1)  # (N, k', k', 3)
    columns = min(16, count)
    rows = math.ceil(count / columns)
    side = k * upscale
    sheet = np.ones((rows * (side + 2), columns * (side + 2), 3), dtype=np.float32)
    for index in range(count):
        r, c = divmod(index, columns)
        sheet[r * (side + 2) + 1: r * (side + 2) + 1 + side, c * (side + 2) + 1: c * (side + 2) + 1 + side] = tiles[index]
    return (sheet * 255).round().astype(np.uint8)


def viridis_png(maps: np.ndarray, scale: ColourScale, value_range: tuple[float, float], columns: int = 8) -> bytes:
    """The channel mosaic as a PNG (viridis), for download."""
    values, zmin, zmax = scaled_maps(maps, scale, value_range)
    tiled = mosaic(values, min(columns, len(maps)))
    normalized = np.clip((tiled - zmin) / (zmax - zmin), 0, 1)
    rgb = colour_table("Viridis")[np.nan_to_num(normalized * 255, nan=0).astype(np.uint8)]
    rgb[np.isnan(tiled)] = 255
    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def overlay(image: Image.Image, heat: np.ndarray, alpha: float = 0.55, greyed: bool = False) -> Image.Image:
    """A map (H, W) stretched to the picture's size and laid over it in jet colours.

    ``greyed``: in greys, for a map that means nothing (an untrained network's Grad-CAM), so that
    it does not look like the heat maps of a trained one."""
    low, high = float(heat.min()), float(heat.max())
    normalized = (heat - low) / (high - low) if high > low else np.zeros_like(heat)
    coloured = Image.fromarray(colour_table("Greys" if greyed else "Jet")[(normalized * 255).astype(np.uint8)], "RGB")
    return Image.blend(image.convert("RGB"), coloured.resize(image.size, Image.BILINEAR), alpha)


def receptive_field_picture(image: Image.Image, field: np.ndarray, box: InputBox,
                            effective_box: InputBox | None) -> Image.Image:
    """The picture with the effective field (H, W in [0, 1]) laid over it in reds, the theoretical
    box in cyan and the effective square in white.

    Colour and opacity follow the field's square root, so the weak tails a single image gives
    still show; pixels that do not move the output keep the picture.
    """
    scale = max(1, round(RF_PICTURE_SIDE / max(image.size)))
    picture = image.convert("RGB").resize((image.size[0] * scale, image.size[1] * scale), Image.NEAREST)
    shown = np.sqrt(np.clip(field, 0, 1))
    heat = Image.fromarray((shown * 255).astype(np.uint8), "L").resize(picture.size, Image.NEAREST)
    reds = Image.fromarray(colour_table("Hot")[np.asarray(heat)], "RGB")
    picture = Image.composite(reds, picture, heat.point(lambda v: int(v * 0.85)))
    draw = ImageDraw.Draw(picture)
    for square, colour, width in ((effective_box, RF_SQUARE_COLOUR, 2), (box, RF_BOX_COLOUR, 3)):
        if square is not None:
            draw.rectangle((square.left * scale, square.top * scale, (square.right + 1) * scale - 1,
                            (square.bottom + 1) * scale - 1), outline=colour, width=width)
    return picture
