"""Recipe: transfer learning, EfficientNet-Lite0's ImageNet features with a new layer (probe, fine-tune
or from scratch), with few labels per class."""

from rnnkit.recipes.transfer.recipe import RECIPE

__all__ = ["RECIPE"]
