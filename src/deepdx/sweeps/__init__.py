"""Sweeps: naming their jobs (:mod:`.jobs`) and reporting their runs (:mod:`.report`)."""
