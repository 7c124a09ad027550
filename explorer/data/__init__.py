"""Layer 2, pictures in: decoding uploads safely, preprocessing, augmentation, and the shapes
task drawn in code. Knows no model."""
