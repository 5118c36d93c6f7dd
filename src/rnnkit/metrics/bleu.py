"""BLEU and chrF of a corpus with sacreBLEU (Post, 2018): the scores the translate and chat
recipes report, with the signatures that say how they were computed.

Tokenisation: sacreBLEU's default ``13a`` on the detokenised text, case-sensitive and
lowercased; ``force=True`` because text normalised like the PyTorch tutorial's is already
tokenised on purpose (its references are too).
"""

from __future__ import annotations

from typing import Sequence


def sacrebleu_metrics():
    """sacreBLEU's ``BLEU`` and ``CHRF`` classes, or a one-line error saying how to install them."""
    try:
        from sacrebleu.metrics import BLEU, CHRF
    except ImportError:
        raise ValueError("scoring translations needs the sacrebleu package: pip install 'rnnkit[translate]'") from None
    return BLEU, CHRF


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict:
    """sacreBLEU corpus BLEU (cased and lowercased) and chrF, with their signatures."""
    BLEU, CHRF = sacrebleu_metrics()
    refs = [list(references)]
    # force: text normalised like the tutorial's is tokenised on purpose (the references are too)
    cased, lower, chrf = BLEU(force=True), BLEU(lowercase=True, force=True), CHRF()
    bleu, bleu_lc, chrf_score = (
        cased.corpus_score(list(hypotheses), refs),
        lower.corpus_score(list(hypotheses), refs),
        chrf.corpus_score(list(hypotheses), refs),
    )
    return {
        "bleu": bleu.score,
        "bleu_lowercased": bleu_lc.score,
        "chrf": chrf_score.score,
        "bleu_detail": str(bleu),
        "bleu_lowercased_detail": str(bleu_lc),
        "signature_bleu": str(cased.get_signature()),
        "signature_bleu_lowercased": str(lower.get_signature()),
        "signature_chrf": str(chrf.get_signature()),
    }
