"""Layer 4, what a model is and does, as data: the layer table and its formatting, counting
conventions, profiling, receptive fields, activations, predictions, comparisons and the
published numbers. No drawing."""
