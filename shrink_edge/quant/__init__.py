"""The int8 scheme every backend shares and the transforms that make it accurate (equalization, smoothing, bias correction)."""
