"""Recipe: word vectors (skip-gram or CBOW with negative sampling, or the tutorial's N-gram LM)."""

from rnnkit.recipes.embeddings.recipe import RECIPE

__all__ = ["RECIPE"]
