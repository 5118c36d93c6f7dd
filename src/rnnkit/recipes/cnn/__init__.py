"""Recipe: an image classifier (the course notes' CNN or a small residual network) on Fashion-MNIST,
MNIST, CIFAR-10 (binary format) or a folder of photos."""

from rnnkit.recipes.cnn.recipe import RECIPE

__all__ = ["RECIPE"]
