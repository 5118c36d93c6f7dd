"""Recipe: sequential MNIST, a recurrent network reading a digit row by row or pixel by pixel."""

from rnnkit.recipes.seqmnist.recipe import RECIPE

__all__ = ["RECIPE"]
