"""DeepDX: learn from real DX7 voices, generate new playable banks."""

__version__ = "0.1.0"
