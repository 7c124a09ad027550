"""Layer 3, the model: `ResNetSpec` and its field table, presets, the URL token, the build from
torchvision's classes, hookable views, torchvision weights and uploaded checkpoints."""
