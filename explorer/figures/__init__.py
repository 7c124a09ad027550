"""Layer 6, drawing: plotly figures and rasters from the layers below, and the paper's Figure 3
as SVG and PNG. Plotly lives here and above; Streamlit does not.

Plotly figures by subject: `architecture`, `maps` (feature maps), `curves` (studies),
`predictions`, `zoo` (published accuracy against cost), `receptive_field`; what they share
in `layout`; pixel pictures in `rasters`; the paper's figure in `paper`; Compare's one-page
HTML hand-out in `handout`.
"""

# plotly imports pandas lazily through a sys.modules lookup, which can hand a concurrent
# session a half-imported module (seen with 12 sessions on a fresh server). Importing it
# here, before any module of this package imports plotly, through the import system and its
# module locks, makes a session wait for it.
import pandas  # noqa: F401
