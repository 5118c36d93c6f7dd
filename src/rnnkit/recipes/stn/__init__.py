"""Recipe: a CNN with and without a spatial transformer in front, on the distorted MNIST sets of the
spatial transformer paper."""

from rnnkit.recipes.stn.recipe import RECIPE

__all__ = ["RECIPE"]
