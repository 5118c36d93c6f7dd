"""Recipe: translation with an attentional encoder-decoder (Multi30k, the eng-fra tutorial, any pairs)."""

from rnnkit.recipes.translate.recipe import RECIPE

__all__ = ["RECIPE"]
