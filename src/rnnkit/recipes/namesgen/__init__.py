"""Recipe: new surnames in the style of a language (category-conditioned character model)."""

from rnnkit.recipes.namesgen.recipe import RECIPE

__all__ = ["RECIPE"]
