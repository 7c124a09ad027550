"""Layer 3, the model: `ResNetSpec` (spec) made of kinds (enums), fields (widget metadata),
depth arithmetic and family defaults; the preset rows and presets; the URL token; the build
from torchvision's classes; hookable views; torchvision weights (pretrained), the checkpoint
upload boundary (checkpoint), spec guessing and fitting (fitting), and model sources (sources)."""
