"""The architecture drawn as in the paper: He et al. 2016, Figure 3 (https://arxiv.org/abs/1512.03385).

The layers stand in one column ("3x3 conv, 128, /2"), shortcuts are arcs beside it, the output
shape sits between stages, and long stages fold into "… n more identical blocks". Everything
is read from the layer tables the caller passes in, never typed in.

`arrange.paper_figure` lays the figure out as frozen `primitives` with coordinates in pixels;
`svg.to_svg` and `png.to_png` draw the same primitives, so the page, the download and the CLI
agree. The figure's own words stay the paper's, in English, in every language (its fonts need
no CJK glyphs); the page's caption says what it shows in the reader's language.
"""
