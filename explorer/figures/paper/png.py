"""The paper figure as a PNG, drawn with Pillow from the same primitives as the SVG: Bézier arcs
flattened to polylines, dashes cut by hand (Pillow draws neither), DejaVu Sans text."""

from __future__ import annotations

import io
import itertools
import math
import struct
from collections.abc import Sequence
from functools import lru_cache

from explorer.figures.paper.primitives import (
    FONT, GATE_INK, INK, LABEL_FONTS, MUTED, SMALL, PANEL_DASHES, PaperFigure, arrowhead,
)

PNG_SCALE = 2  # twice the SVG's pixels: sharp on a projector


@lru_cache(maxsize=16)
def _font(size: int, bold: bool = False):
    """DejaVu Sans where it is installed, else Pillow's own scalable default font."""
    from PIL import ImageFont

    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def _cubic(points, steps: int = 48) -> list[tuple[float, float]]:
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points
    out = []
    for i in range(steps + 1):
        t = i / steps
        a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3
        out.append((a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3))
    return out


def _dashed(points: Sequence[tuple[float, float]], dashes: Sequence[float]) -> list[list[tuple[float, float]]]:
    """The "on" pieces of a polyline drawn with the on/off pattern ``dashes`` (the whole line if empty)."""
    if not dashes:
        return [list(points)]
    pieces: list[list[tuple[float, float]]] = []
    pattern = itertools.cycle(enumerate(dashes))
    index, left = next(pattern)
    current: list[tuple[float, float]] = [points[0]]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        length = math.hypot(x1 - x0, y1 - y0)
        done = 0.0
        while length - done > left:
            done += left
            point = (x0 + (x1 - x0) * done / length, y0 + (y1 - y0) * done / length)
            if index % 2 == 0:
                pieces.append([*current, point])
            current = [point]
            index, left = next(pattern)
        left -= length - done
        current.append((x1, y1))
    if index % 2 == 0:
        pieces.append(current)
    return [p for p in pieces if len(p) > 1]


def to_png(figure: PaperFigure, scale: int = PNG_SCALE) -> bytes:
    """The figure as a PNG image, ``scale`` pixels per SVG pixel."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (math.ceil(figure.width * scale), math.ceil(figure.height * scale)), "white")
    draw = ImageDraw.Draw(image)

    def px(points):
        return [(x * scale, y * scale) for x, y in points]

    for panel in figure.panels:  # under everything: a gate branch's frame, dashed by hand
        x0, y0, x1, y1 = panel.x, panel.y, panel.x + panel.width, panel.y + panel.height
        for piece in _dashed(px([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]), [d * scale for d in PANEL_DASHES]):
            draw.line(piece, fill=GATE_INK, width=scale)
    for arc in figure.arcs:
        curve = arc.curve
        for piece in _dashed(px(_cubic(curve)), [d * scale for d in arc.dashes]):
            draw.line(piece, fill=arc.colour, width=round(1.6 * scale), joint="curve")
        draw.polygon(px(arrowhead(curve[3], curve[2])), fill=arc.colour)
    for line in figure.lines:
        ends = px([(line.x0, line.y0), (line.x1, line.y1)])
        for piece in _dashed(ends, [d * scale for d in line.dashes]):
            draw.line(piece, fill=line.colour, width=round(1.4 * scale))
        if line.arrow:
            draw.polygon(px(arrowhead((line.x1, line.y1), (line.x0, line.y0), 5)), fill=line.colour)
    for box in figure.boxes:
        draw.rounded_rectangle(px([(box.x, box.y), (box.x + box.width, box.y + box.height)]), radius=5 * scale,
                               fill=box.fill, outline=INK, width=scale)
        draw.text(((box.x + box.width / 2) * scale, (box.y + box.height / 2) * scale), box.text, fill=INK,
                  font=_font(FONT * scale), anchor="mm")
    for node in figure.nodes:
        r = node.radius
        draw.ellipse(px([(node.x - r, node.y - r), (node.x + r, node.y + r)]), fill="white", outline=GATE_INK,
                     width=round(1.4 * scale))
        draw.text((node.x * scale, node.y * scale), node.symbol, fill=GATE_INK, font=_font(FONT * scale, True),
                  anchor="mm")
    for fold in figure.folds:
        draw.text(((fold.x + fold.width / 2) * scale, (fold.y + fold.height / 2) * scale), fold.text, fill=MUTED,
                  font=_font(SMALL * scale), anchor="mm")
    anchors = {"start": "lm", "middle": "mm", "end": "rm"}
    for label in figure.labels:
        size, weight, colour = LABEL_FONTS[label.role]
        draw.text((label.x * scale, label.y * scale), label.text, fill=colour, font=_font(size * scale, weight == "bold"),
                  anchor=anchors[label.anchor])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def png_size(header: bytes) -> tuple[int, int]:
    """(width, height) in pixels from the first 24 bytes of a PNG file (its signature and IHDR chunk)."""
    if header[:8] != b"\x89PNG\r\n\x1a\n" or header[12:16] != b"IHDR":
        raise ValueError("Not a PNG file: its first bytes are not a PNG signature and IHDR chunk.")
    width, height = struct.unpack(">II", header[16:24])
    return width, height
