"""Layer 7, everything that imports Streamlit: the model picker and page list, the lesson,
and the pieces the pages share. Above it only `app.py` and the pages."""
