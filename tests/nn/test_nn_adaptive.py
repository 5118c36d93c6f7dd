"""Adaptive softmax: an exact, normalised distribution; its fast loss equals the full one."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.nn.adaptive import AdaptiveSoftmax, parse_cutoffs
from rnnkit.recipes.wordlm.model import WordLanguageModel, WordLMConfig


def make(vocab=40, width=6, cutoffs=(8, 20), seed=0):
    torch.manual_seed(seed)
    return AdaptiveSoftmax(width, vocab, list(cutoffs)).double()


@settings(max_examples=25, deadline=None)
@given(st.integers(3, 60), st.data())
def test_log_prob_is_normalised_and_nll_matches_it(vocab, data):
    cuts = sorted(data.draw(st.sets(st.integers(1, vocab - 1), min_size=1, max_size=3)))
    softmax = make(vocab, 5, cuts, seed=vocab)
    hidden = torch.randn(11, 5, dtype=torch.float64)
    target = torch.randint(vocab, (11,))
    log_prob = softmax.log_prob(hidden)  # (11, vocab)
    torch.testing.assert_close(log_prob.exp().sum(-1), torch.ones(11, dtype=torch.float64))
    expected = -log_prob.gather(1, target[:, None]).squeeze(1)
    torch.testing.assert_close(softmax.nll(hidden, target), expected, rtol=0, atol=1e-12)


def test_nll_gradients_equal_those_of_the_full_distribution():
    softmax = make()
    hidden = torch.randn(30, 6, dtype=torch.float64, requires_grad=True)
    target = torch.arange(30) + 5  # head, first and second cluster
    fast = torch.autograd.grad(softmax.nll(hidden, target).sum(), [hidden, *softmax.parameters()])
    full = -softmax.log_prob(hidden).gather(1, target[:, None]).sum()
    slow = torch.autograd.grad(full, [hidden, *softmax.parameters()])
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_one_cluster_equals_a_full_softmax_when_clusters_are_certain():
    """With the cluster logits far below the head, the head is a plain softmax over its words."""
    softmax = make(vocab=12, cutoffs=(6,))
    with torch.no_grad():
        softmax.cluster_bias.fill_(-1e4)
    hidden = torch.randn(4, 6, dtype=torch.float64)
    plain = torch.log_softmax(hidden @ softmax.weight[:6].T + softmax.bias[:6], -1)
    torch.testing.assert_close(softmax.log_prob(hidden)[:, :6], plain)


def test_word_model_loss_equals_cross_entropy_of_its_log_probs_and_ties_weights():
    torch.manual_seed(1)
    config = WordLMConfig(embedding_dim=8, hidden_size=8, num_layers=2, adaptive_cutoffs="10,25", weight_dropout=0.0)
    model = WordLanguageModel(50, config).double().eval()
    assert model.decoder.weight is model.embedding.weight
    tokens, targets = torch.randint(50, (3, 7)), torch.randint(50, (3, 7))
    log_prob, _ = model(tokens)  # (3, 7, 50)
    loss, _ = model.loss(tokens, targets, reduction="sum")
    expected = torch.nn.functional.nll_loss(log_prob.reshape(-1, 50), targets.reshape(-1), reduction="sum")
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize(
    "text, message",
    [
        ("2000;5000", "comma-separated integers"),
        ("30,20", "increasing"),
        ("10,50", "increasing values between 0 and the vocabulary size 50"),
        ("0,10", "increasing"),
    ],
)
def test_bad_cutoffs_name_the_option(text, message):
    with pytest.raises(ValueError, match="adaptive_cutoffs") as error:
        parse_cutoffs(text, 50)
    assert message in str(error.value)


def test_nll_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"expected hidden \(M, 6\) and target \(M,\)"):
        make().nll(torch.randn(4, 6, dtype=torch.float64), torch.zeros(5, dtype=torch.long))
