"""Evaluation: collapse and quality against real held-out voices and simple baselines."""
