"""Checking artifacts and models: output-by-output metrics and budgets, the user's task metric, the per-layer debugger, pre-training checks."""
