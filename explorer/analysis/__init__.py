"""Layer 4, what a model is and does, as data: the layer table and its formatting, counting
conventions, honest timings (`timing`: warm-ups, median and spread, one rounding), profiling,
training cost, receptive fields, activations, predictions, comparisons and the published
numbers. No drawing."""
