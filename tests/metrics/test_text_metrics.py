"""distinct-n and the unigram-perplexity baseline, against hand-computed values."""

import math

import pytest

from rnnkit.metrics.classification import distinct_n, unigram_perplexity


def test_distinct_n_by_hand():
    replies = [["i", "do", "not", "know"], ["i", "do", "not"], []]
    assert distinct_n(replies, 1) == pytest.approx(4 / 7)  # i do not know / 7 tokens
    assert distinct_n(replies, 2) == pytest.approx(3 / 5)  # (i do) (do not) (not know) of 5 bigrams
    assert distinct_n([["a"]], 2) == 0.0
    with pytest.raises(ValueError, match="n >= 1"):
        distinct_n(replies, 0)


def test_unigram_perplexity_by_hand():
    train = [["a", "b"], ["a"]]  # counts: a 2, b 1, </s> 2; total 5; vocab 3 + unknown = 4
    test = [["a", "c"]]  # a, c (unknown), </s>
    p = [(2 + 1) / 9, (0 + 1) / 9, (2 + 1) / 9]
    assert unigram_perplexity(train, test) == pytest.approx(math.exp(-sum(map(math.log, p)) / 3))
    with pytest.raises(ValueError, match="empty"):
        unigram_perplexity(train, [])


def test_unigram_perplexity_over_a_models_vocabulary_by_hand():
    vocabulary = ["<pad>", "<sos>", "<eos>", "<unk>", "a", "b"]  # 6 outcomes, as a model's softmax
    train = [["a", "<unk>"], ["a"]]  # counts: a 2, <unk> 1, <eos> 2; total 5
    test = [["b", "<unk>"]]  # b, <unk>, <eos>
    p = [(0 + 1) / 11, (1 + 1) / 11, (2 + 1) / 11]
    value = unigram_perplexity(train, test, end="<eos>", vocabulary=vocabulary)
    assert value == pytest.approx(math.exp(-sum(map(math.log, p)) / 3))
    with pytest.raises(ValueError, match="'c' is outside the given vocabulary"):
        unigram_perplexity(train, [["c"]], end="<eos>", vocabulary=vocabulary)
