"""Layer 6, drawing: plotly figures and rasters from the layers below, and the paper's Figure 3
as SVG and PNG. Plotly lives here and above; Streamlit does not."""
