"""Recipe: a seq2seq chatbot on dialogue pairs (bundled Tiny Shakespeare, Cornell Movie-Dialogs, any TSV)."""

from rnnkit.recipes.chat.recipe import RECIPE

__all__ = ["RECIPE"]
