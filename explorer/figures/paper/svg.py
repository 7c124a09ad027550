"""The paper figure as a standalone SVG document (vector: sharp on any slide)."""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

from explorer.figures.paper.primitives import (
    FONT, GATE_INK, INK, LABEL_FONTS, MUTED, SMALL, PANEL_DASHES, PaperFigure, arrowhead,
)

FONT_FAMILY = "DejaVu Sans, Verdana, Arial, sans-serif"


def _svg_text(x: float, y: float, text: str, size: int, weight: str = "normal", colour: str = INK,
              anchor: str = "middle") -> str:
    # A baseline 0.35 em below the centre: portable where dominant-baseline is not (slides, Inkscape).
    return (f'<text x="{x:.1f}" y="{y + size * 0.35:.1f}" font-size="{size}" font-weight="{weight}" '
            f'fill="{colour}" text-anchor="{anchor}">{escape(text)}</text>')


def _svg_points(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def _dash(dashes: Sequence[int]) -> str:
    return f' stroke-dasharray="{",".join(map(str, dashes))}"' if dashes else ""


def to_svg(figure: PaperFigure) -> str:
    """The figure as a standalone SVG document (vector: sharp on any slide)."""
    size = f'width="{figure.width:.0f}" height="{figure.height:.0f}" viewBox="0 0 {figure.width:.0f} {figure.height:.0f}"'
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" {size} font-family={quoteattr(FONT_FAMILY)}>',
        f"<title>{escape(figure.name)}: architecture in the style of He et al. 2016, Figure 3</title>",
        '<rect width="100%" height="100%" fill="white"/>',
    ]
    for panel in figure.panels:  # under everything: a gate branch's frame
        out.append(f'<rect x="{panel.x:.1f}" y="{panel.y:.1f}" width="{panel.width:.1f}" height="{panel.height:.1f}" '
                   f'rx="7" fill="none" stroke="{GATE_INK}" stroke-width="1"{_dash(PANEL_DASHES)}/>')
    for arc in figure.arcs:
        (x0, y0), c1, c2, end = arc.curve
        out.append(f'<path d="M {x0:.1f} {y0:.1f} C {c1[0]:.1f} {c1[1]:.1f} {c2[0]:.1f} {c2[1]:.1f} {end[0]:.1f} '
                   f'{end[1]:.1f}" fill="none" stroke="{arc.colour}" stroke-width="1.6"{_dash(arc.dashes)}/>')
        out.append(f'<polygon points="{_svg_points(arrowhead(end, c2))}" fill="{arc.colour}"/>')
    for line in figure.lines:
        out.append(f'<line x1="{line.x0:.1f}" y1="{line.y0:.1f}" x2="{line.x1:.1f}" y2="{line.y1:.1f}" '
                   f'stroke="{line.colour}" stroke-width="1.4"{_dash(line.dashes)}/>')
        if line.arrow:
            out.append(f'<polygon points="{_svg_points(arrowhead((line.x1, line.y1), (line.x0, line.y0), 5))}" '
                       f'fill="{line.colour}"/>')
    for box in figure.boxes:
        out.append(f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.width:.1f}" height="{box.height:.1f}" '
                   f'rx="5" fill="{box.fill}" stroke="{INK}" stroke-width="1"/>')
        out.append(_svg_text(box.x + box.width / 2, box.y + box.height / 2, box.text, FONT))
    for node in figure.nodes:
        out.append(f'<circle cx="{node.x:.1f}" cy="{node.y:.1f}" r="{node.radius:.1f}" fill="white" '
                   f'stroke="{GATE_INK}" stroke-width="1.4"/>')
        out.append(_svg_text(node.x, node.y, node.symbol, FONT, "bold", GATE_INK))
    for fold in figure.folds:
        out.append(_svg_text(fold.x + fold.width / 2, fold.y + fold.height / 2, fold.text, SMALL, "normal", MUTED))
    for label in figure.labels:
        size, weight, colour = LABEL_FONTS[label.role]
        out.append(_svg_text(label.x, label.y, label.text, size, weight, colour, label.anchor))
    out.append("</svg>")
    return "\n".join(out) + "\n"
