"""Recipe: part-of-speech tagging (UPOS, XPOS, UFeats) on UD English EWT or any CoNLL-U treebank."""

from rnnkit.recipes.postag.recipe import RECIPE

__all__ = ["RECIPE"]
