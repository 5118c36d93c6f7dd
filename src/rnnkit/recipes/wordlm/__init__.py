"""Recipe: word-level language model (PTB, WikiText-2 or a train/valid/test folder)."""

from rnnkit.recipes.wordlm.recipe import RECIPE

__all__ = ["RECIPE"]
