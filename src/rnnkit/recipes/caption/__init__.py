"""Recipe: image captioning with a convolutional encoder and an LSTM decoder with visual attention."""

from rnnkit.recipes.caption.recipe import RECIPE

__all__ = ["RECIPE"]
