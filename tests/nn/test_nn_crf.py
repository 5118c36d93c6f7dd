"""Linear-chain CRF: score, log Z, Viterbi and marginals against enumeration of every path."""

import itertools
import math

import pytest
import torch
from torch.func import functional_call

from rnnkit.nn import LinearChainCRF

C = 3
LENGTHS = [4, 2, 1, 3]  # a right-padded batch, L = 4


def make(num_tags=C, seed=0):
    """A float64 CRF with random (non-zero) parameters."""
    torch.manual_seed(seed)
    crf = LinearChainCRF(num_tags).double()
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    return crf


def batch(lengths=LENGTHS, num_tags=C, seed=1):
    """Emissions (N, L, C) float64, tags (N, L) and a right-padding mask (N, L)."""
    gen = torch.Generator().manual_seed(seed)
    n, length = len(lengths), max(lengths)
    emissions = torch.randn(n, length, num_tags, generator=gen, dtype=torch.float64)
    tags = torch.randint(num_tags, (n, length), generator=gen)
    mask = torch.arange(length)[None, :] < torch.tensor(lengths)[:, None]
    return emissions, tags, mask


def path_score(crf, emissions, path):
    """s(E, y) of one sequence written out term by term: emissions (T, C), path of T tags."""
    total = crf.start[path[0]] + crf.end[path[-1]]
    for t, tag in enumerate(path):
        total = total + emissions[t, tag]
    for prev, tag in zip(path, path[1:]):
        total = total + crf.transitions[prev, tag]
    return total


def all_paths(crf, emissions, length):
    """Every one of the C^length paths of a sequence and its score (length,) -> list, (C^length,)."""
    paths = list(itertools.product(range(crf.num_tags), repeat=length))
    return paths, torch.stack([path_score(crf, emissions[:length], p) for p in paths])


def test_score_equals_a_hand_computation():
    crf = LinearChainCRF(2).double()
    with torch.no_grad():
        crf.transitions.copy_(torch.tensor([[0.5, -1.0], [2.0, 0.25]], dtype=torch.float64))
        crf.start.copy_(torch.tensor([0.1, -0.2], dtype=torch.float64))
        crf.end.copy_(torch.tensor([-0.3, 0.7], dtype=torch.float64))
    emissions = torch.tensor(
        [[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [[0.5, -0.5], [9.0, 9.0], [9.0, 9.0]]], dtype=torch.float64
    )
    tags = torch.tensor([[0, 1, 1], [1, 0, 0]])
    mask = torch.tensor([[True, True, True], [True, False, False]])
    # 0 -> 1 -> 1: start[0] + E(1, 4, 6) + T[0,1] + T[1,1] + end[1]
    first = 0.1 + (1.0 + 4.0 + 6.0) + (-1.0 + 0.25) + 0.7
    second = -0.2 + -0.5 + 0.7  # a single position with tag 1: start[1] + E + end[1]
    expected = torch.tensor([first, second], dtype=torch.float64)
    torch.testing.assert_close(crf.score(emissions, tags, mask), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_log_partition_viterbi_and_score_equal_enumeration(seed):
    crf = make(seed=seed)
    emissions, tags, mask = batch(seed=seed + 10)
    log_z = crf.log_partition(emissions, mask)
    score = crf.score(emissions, tags, mask)
    paths, best = crf.viterbi(emissions, mask)
    decoded = crf.decode(emissions, mask)
    assert paths.dtype == torch.int64 and paths.shape == mask.shape
    for k, length in enumerate(LENGTHS):
        every, scores = all_paths(crf, emissions[k], length)
        torch.testing.assert_close(log_z[k], torch.logsumexp(scores, 0), rtol=0, atol=1e-12)
        torch.testing.assert_close(
            score[k], path_score(crf, emissions[k], tags[k, :length].tolist()), rtol=0, atol=1e-12
        )
        argmax = list(every[int(scores.argmax())])
        assert decoded[k] == argmax
        assert paths[k, :length].tolist() == argmax and (paths[k, length:] == -1).all()
        torch.testing.assert_close(best[k], scores.max(), rtol=0, atol=1e-12)


def test_marginals_equal_enumeration_and_sum_to_one():
    crf = make(seed=3)
    emissions, _, mask = batch(seed=4)
    marginals = crf.marginals(emissions, mask)
    assert marginals.shape == emissions.shape
    for k, length in enumerate(LENGTHS):
        every, scores = all_paths(crf, emissions[k], length)
        probs = torch.softmax(scores, 0)
        expected = torch.zeros(emissions.shape[1:], dtype=torch.float64)
        for path, p in zip(every, probs):
            expected[torch.arange(length), list(path)] += p
        torch.testing.assert_close(marginals[k], expected, rtol=0, atol=1e-12)
    torch.testing.assert_close(marginals.sum(-1), mask.double())


def test_marginals_are_the_gradient_of_log_partition():
    crf = make(seed=5)
    emissions, _, mask = batch(seed=6)
    emissions.requires_grad_(True)
    (grad,) = torch.autograd.grad(crf.log_partition(emissions, mask).sum(), emissions)
    torch.testing.assert_close(crf.marginals(emissions, mask), grad, rtol=0, atol=1e-12)


def test_padding_gives_the_results_of_each_sequence_alone():
    crf = make(seed=7)
    emissions, tags, mask = batch(seed=8)
    emissions = emissions.masked_fill(~mask[..., None], float("nan"))  # padding must not be read
    tags = tags.masked_fill(~mask, -100)
    emissions.requires_grad_(True)
    nll = crf.nll(emissions, tags, mask, reduction="none")
    log_z, score = crf.log_partition(emissions, mask), crf.score(emissions, tags, mask)
    decoded, marginals = crf.decode(emissions, mask), crf.marginals(emissions, mask)
    (grad,) = torch.autograd.grad(nll.sum(), emissions)
    assert torch.isfinite(grad).all() and (grad[~mask] == 0).all()
    for k, length in enumerate(LENGTHS):
        alone = emissions[k : k + 1, :length].detach()
        alone_tags = tags[k : k + 1, :length]
        torch.testing.assert_close(log_z[k], crf.log_partition(alone)[0], rtol=0, atol=1e-12)
        torch.testing.assert_close(score[k], crf.score(alone, alone_tags)[0], rtol=0, atol=1e-12)
        torch.testing.assert_close(nll[k], crf.nll(alone, alone_tags, reduction="none")[0], rtol=0, atol=1e-12)
        assert decoded[k] == crf.decode(alone)[0]
        torch.testing.assert_close(marginals[k, :length], crf.marginals(alone)[0], rtol=0, atol=1e-12)
        assert (marginals[k, length:] == 0).all()


def test_nll_is_non_negative_and_reductions_agree():
    crf = make(seed=9)
    emissions, tags, mask = batch(seed=10)
    each = crf.nll(emissions, tags, mask, reduction="none")
    assert each.shape == (len(LENGTHS),) and (each >= 0).all()
    torch.testing.assert_close(crf.nll(emissions, tags, mask), each.mean())
    torch.testing.assert_close(crf(emissions, tags, mask, reduction="sum"), each.sum())
    torch.testing.assert_close(crf.nll(emissions, tags, mask, reduction="token_mean"), each.sum() / sum(LENGTHS))
    torch.testing.assert_close(each, crf.log_partition(emissions, mask) - crf.score(emissions, tags, mask))


def test_nll_gradients_pass_gradcheck():
    crf = make(seed=11)
    emissions, tags, mask = batch(lengths=[3, 1, 2], seed=12)
    names = [name for name, _ in crf.named_parameters()]

    def loss(emissions, *params):
        return functional_call(crf, dict(zip(names, params)), (emissions, tags, mask), {"reduction": "sum"})

    inputs = [emissions.requires_grad_(True)] + [p.detach().clone().requires_grad_(True) for p in crf.parameters()]
    assert torch.autograd.gradcheck(loss, inputs)


def test_float32_follows_the_input_and_matches_float64():
    crf = make(seed=13)
    emissions, tags, mask = batch(seed=14)
    single = crf.float()
    assert single.nll(emissions.float(), tags, mask).dtype == torch.float32
    assert single.marginals(emissions.float(), mask).dtype == torch.float32
    torch.testing.assert_close(
        single.log_partition(emissions.float(), mask).double(),
        make(seed=13).log_partition(emissions, mask),
        rtol=1e-5,
        atol=1e-5,
    )
    assert single.log_partition(emissions, mask).dtype == torch.float64  # float32 params, float64 input


def test_default_mask_means_every_position_is_real():
    crf = make(seed=15)
    emissions, tags, _ = batch(lengths=[3, 3], seed=16)
    full = torch.ones(2, 3, dtype=torch.bool)
    torch.testing.assert_close(crf.nll(emissions, tags), crf.nll(emissions, tags, full))
    assert crf.decode(emissions) == crf.decode(emissions, full)


@pytest.mark.parametrize(
    "mask, message",
    [
        (torch.tensor([[True, False, True], [True, True, False]]), r"mask\[0\] is not a prefix: position 2"),
        (torch.tensor([[True, True, True], [False, False, False]]), r"mask\[1\] has no real position"),
        (torch.tensor([[True, True, True], [False, True, True]]), r"mask\[1\] has a padded first position"),
        (torch.ones(2, 4, dtype=torch.bool), r"expected mask of shape \(2, 3\).*got \(2, 4\)"),
        (torch.ones(2, 3, dtype=torch.int64), r"mask of dtype torch.bool"),
        ([[True] * 3] * 2, r"expected mask to be a Tensor"),
    ],
)
def test_bad_mask_raises_naming_it(mask, message):
    crf = make()
    emissions, tags, _ = batch(lengths=[3, 3], seed=17)
    for call in (
        lambda: crf.nll(emissions, tags, mask),
        lambda: crf.log_partition(emissions, mask),
        lambda: crf.decode(emissions, mask),
        lambda: crf.marginals(emissions, mask),
        lambda: crf.score(emissions, tags, mask),
    ):
        with pytest.raises(ValueError, match=message):
            call()


def test_bad_emissions_tags_and_arguments_raise_naming_them():
    crf = make()
    emissions, tags, mask = batch(lengths=[3, 2], seed=18)
    with pytest.raises(ValueError, match=r"LinearChainCRF.log_partition: expected emissions .*C = num_tags = 3"):
        crf.log_partition(emissions[..., :2], mask)
    with pytest.raises(ValueError, match="floating-point emissions"):
        crf.decode(emissions.long(), mask)
    with pytest.raises(ValueError, match=r"emissions have no positions \(L = 0"):
        crf.log_partition(emissions[:, :0])
    with pytest.raises(ValueError, match=r"mask has no positions"):
        crf.log_partition(emissions[:, :0], mask[:, :0])
    bad = tags.clone()
    bad[1, 1] = 3
    with pytest.raises(ValueError, match=r"tags\[1, 1\] = 3 is not a tag id in \[0, 3\)"):
        crf.nll(emissions, bad, mask)
    bad[1, 1], bad[1, 2] = 0, 7  # out of range only at a padded position: ignored
    crf.nll(emissions, bad, mask)
    with pytest.raises(ValueError, match=r"expected tags of shape \(2, 3\)"):
        crf.score(emissions, tags[:, :2], mask)
    with pytest.raises(ValueError, match="integer tag ids"):
        crf.score(emissions, tags.double(), mask)
    with pytest.raises(ValueError, match="reduction must be one of"):
        crf.nll(emissions, tags, mask, reduction="avg")
    with pytest.raises(ValueError, match="num_tags must be a positive integer"):
        LinearChainCRF(0)
    with pytest.raises(ValueError, match="parameters are on meta"):
        LinearChainCRF(3).to("meta").log_partition(emissions, mask)


def test_training_learns_transitions_the_emissions_cannot_see():
    """Tags cycle 0 -> 1 -> 2 -> 0; only the first word tells the start tag, later words are all
    the same token. Emissions alone can reach 1/3 per later position; the CRF has to learn the cycle."""
    torch.manual_seed(0)
    lengths = [5, 3, 4, 2, 5, 1]
    firsts = [0, 1, 2, 0, 2, 1]
    words = torch.full((6, 5), 3)
    words[:, 0] = torch.tensor(firsts)
    tags = (torch.tensor(firsts)[:, None] + torch.arange(5)[None, :]) % C
    mask = torch.arange(5)[None, :] < torch.tensor(lengths)[:, None]
    embed = torch.nn.Embedding(4, C).double()  # the emissions: one learnt score vector per word
    crf = LinearChainCRF(C).double()
    optimiser = torch.optim.Adam([*embed.parameters(), *crf.parameters()], lr=0.1)
    losses = []
    for _ in range(150):
        loss = crf.nll(embed(words), tags, mask, reduction="token_mean")
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 < 0.5 * math.log(C) < losses[0]
    decoded = crf.decode(embed(words), mask)
    assert decoded == [tags[k, :n].tolist() for k, n in enumerate(lengths)]
    assert crf.transitions.argmax(dim=1).tolist() == [1, 2, 0]
