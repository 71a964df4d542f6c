"""DeepDX: learn from real DX7 voices, generate new playable banks."""

from .reproducible import pin

pin()  # before numpy or torch load: the same bits on any x86-64 machine (see reproducible.py)

__version__ = "0.1.0"
