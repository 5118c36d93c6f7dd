"""Recipe: forecast a time series (a generated sine, noisy sines, or any CSV column)."""

from rnnkit.recipes.timeseries.recipe import RECIPE

__all__ = ["RECIPE"]
