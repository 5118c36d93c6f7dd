"""Recipe: which language is a surname from (18 classes, the PyTorch tutorial data)."""

from rnnkit.recipes.names.recipe import RECIPE

__all__ = ["RECIPE"]
