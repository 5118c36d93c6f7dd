"""Caption scores: BLEU-1..4, CIDEr-D and ROUGE-L of generated captions against their references.

The scorers are the pure-Python ones of the COCO caption evaluation (``pycocoevalcap``, the
package behind the COCO leaderboard): BLEU with the "closest" reference length (Papineni et al.,
2002), CIDEr-D (Vedantam et al., 2015: tf-idf weighted n-grams 1-4 with the reference set's
document frequencies, clipped counts and a Gaussian length penalty, sigma 6, times 10) and
ROUGE-L (longest common subsequence F-measure, beta 1.2). Its Java PTB tokenizer, METEOR and
SPICE cannot run here, so text is tokenised by :func:`caption_tokens`: lowercased, every
character that is not a letter, digit, hyphen or apostrophe becomes a space, split on spaces.
Scores are corpus-level and reported on 0-100 (CIDEr-D on its own scale: 100 = 1.0 of the paper's
table, where human captions score about 85 on COCO).
"""

from __future__ import annotations

import contextlib
import io
import re
from typing import Sequence

EXTRA = "caption"
_NOT_WORD = re.compile(r"[^a-z0-9'\-]+")


def caption_tokens(text: str) -> list[str]:
    """Lowercased words of ``text`` (punctuation dropped), as the scorers see them."""
    return _NOT_WORD.sub(" ", text.lower()).split()


def _scorers():
    try:
        from pycocoevalcap.bleu.bleu import Bleu
        from pycocoevalcap.cider.cider import Cider
        from pycocoevalcap.rouge.rouge import Rouge
    except ImportError:
        raise ValueError(f"caption scores need the package pycocoevalcap: pip install 'rnnkit[{EXTRA}]'") from None
    return Bleu, Cider, Rouge


def check_scorers() -> None:
    """ValueError (naming the extra to install) when the scorers are missing: fail before training."""
    _scorers()


def caption_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """Corpus BLEU-1..4, CIDEr-D and ROUGE-L (0-100) of one hypothesis per image against its references.

    Args:
        hypotheses: M captions.
        references: M lists of reference captions (at least one each).
    """
    if len(hypotheses) != len(references):
        raise ValueError(f"caption scores: {len(hypotheses)} hypotheses for {len(references)} reference lists")
    if not hypotheses:
        raise ValueError("caption scores: no captions to score")
    for index, refs in enumerate(references):
        if not refs:
            raise ValueError(f"caption scores: image {index} has no reference caption")
    Bleu, Cider, Rouge = _scorers()
    res = {i: [" ".join(caption_tokens(h))] for i, h in enumerate(hypotheses)}
    gts = {i: [" ".join(caption_tokens(r)) for r in refs] for i, refs in enumerate(references)}
    with contextlib.redirect_stdout(io.StringIO()):  # BLEU prints its n-gram counts
        bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
        cider, _ = Cider().compute_score(gts, res)
        rouge, _ = Rouge().compute_score(gts, res)
    scores = {f"bleu{n}": 100 * float(b) for n, b in enumerate(bleu, 1)}
    scores.update(cider_d=100 * float(cider), rouge_l=100 * float(rouge))
    return scores
