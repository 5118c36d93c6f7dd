"""Word vectors: sampling statistics, windows, the objective's determinism, and a planted corpus."""

import math

import pytest
import torch

from rnnkit.metrics import similarity as wordsim
from rnnkit.recipes.embeddings import skipgram as sg
from rnnkit.recipes.embeddings.model import EmbeddingModelConfig, build_embedding_model
from rnnkit.recipes.embeddings.objective import WordVectorObjective

CHI2_999 = {9: 27.88}  # 0.999 quantile of chi-square with 9 degrees of freedom


def test_negative_samples_follow_the_unigram_distribution_to_the_three_quarters():
    counts = torch.tensor([5000.0, 2000, 900, 400, 150, 80, 30, 12, 5, 1])
    sampler = sg.NegativeSampler(counts)
    expected = counts**0.75 / (counts**0.75).sum()
    assert torch.allclose(sampler.probabilities, expected.double())
    n = 400_000
    drawn = sampler.sample((n // 4, 4), torch.Generator().manual_seed(0)).flatten()
    observed = torch.bincount(drawn, minlength=len(counts)).double()
    chi2 = float(((observed - n * expected.double()) ** 2 / (n * expected.double())).sum())
    assert chi2 < CHI2_999[9], chi2
    assert float((observed / n - expected).abs().max()) < 0.003
    plain = counts / counts.sum()  # the 3/4 power flattens: rare words are drawn more than their share
    assert observed[-1] / n > 2 * plain[-1] and observed[0] / n < plain[0]


def test_subsampling_keeps_rare_words_and_drops_frequent_ones_at_the_word2vec_rate():
    counts = torch.tensor([100_000.0, 10_000, 1_000, 10, 1])  # shares 0.9, 0.09, 0.009, 9e-5, 9e-6
    t = 1e-3
    keep = sg.keep_probabilities(counts, t)
    share = counts / counts.sum()
    assert torch.allclose(keep, (((share / t).sqrt() + 1) * t / share).clamp(max=1.0))
    assert keep[3] == 1.0 and keep[4] == 1.0  # f below t: always kept
    assert math.isclose(float(keep[0]), (math.sqrt(share[0] / t) + 1) * t / share[0], rel_tol=1e-9)
    stream = torch.repeat_interleave(torch.arange(5), counts.long())
    kept = torch.bincount(sg.subsample(stream, keep, torch.Generator().manual_seed(1)), minlength=5)
    rate = kept.double() / counts.double()
    assert abs(rate[0] - keep[0]) < 0.005 and abs(rate[1] - keep[1]) < 0.01
    assert rate[0] < 0.04 and rate[3] == 1.0 and rate[4] == 1.0
    assert torch.equal(sg.keep_probabilities(counts, 0.0), torch.ones(5, dtype=counts.dtype))


def test_dynamic_windows_use_nearer_words_more_often():
    stream = torch.arange(2000) % 50
    _, owner, context = sg.skipgram_pairs(stream, 100, 1900, 4, torch.Generator().manual_seed(2))
    centres = torch.arange(100, 1900)
    gap = (context - stream[centres[owner]]) % 50
    gap = torch.minimum(gap, 50 - gap)
    share = torch.bincount(gap, minlength=5)[1:5].double() / (2 * len(centres))
    assert torch.allclose(share, torch.tensor([4, 3, 2, 1], dtype=torch.float64) / 4, atol=0.04)


def test_cbow_and_ngram_examples_have_the_documented_shapes():
    stream = torch.arange(30)
    target, contexts, mask = sg.cbow_windows(stream, 0, 30, 3, torch.Generator().manual_seed(0))
    assert contexts.shape == (30, 6) and mask.shape == (30, 6) and mask.any(1).all()
    assert (contexts[~mask] == 0).all() and torch.equal(target, stream)
    ctx, tgt = sg.ngram_examples(stream, 0, 10, 2)
    assert torch.equal(tgt, torch.arange(2, 10)) and torch.equal(ctx[0], torch.tensor([0, 1]))


def _objective(method="skipgram", seed=3, **kw):
    stream = torch.randint(0, 40, (3000,), generator=torch.Generator().manual_seed(0))
    counts = torch.bincount(stream, minlength=40).double()
    return WordVectorObjective(stream, stream[:300], counts, method, 3, 2, 4, 1e-2, 256, seed, **kw)


@pytest.mark.parametrize("method", ["skipgram", "cbow", "ngram"])
def test_the_objective_is_reproducible_and_resumes_where_it_stopped(method):
    first, second = _objective(method), _objective(method)
    for _ in range(15):
        a, b = first.next_batch(), second.next_batch()
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a if k != "words")
    tensors, meta = first.state_dict()
    resumed = _objective(method)
    resumed.load_state_dict(tensors, meta)
    assert resumed.epoch == first.epoch >= 1
    a, b = first.next_batch(), resumed.next_batch()
    assert all(torch.equal(a[k], b[k]) for k in a if k != "words")
    other = _objective(method, seed=4).next_batch()
    if method != "ngram":
        assert not torch.equal(other["negatives"], _objective(method).next_batch()["negatives"])


@pytest.mark.parametrize("method", ["skipgram", "cbow", "ngram"])
def test_a_training_step_lowers_the_validation_loss(method):
    objective = _objective(method)
    model = build_embedding_model(40, EmbeddingModelConfig(method=method, dim=16, hidden_size=16))
    optimizer = torch.optim.Adam(model.parameters(), 0.02)
    before = objective.evaluate(model)["loss"]
    for _ in range(30):
        loss, count = objective.step(model, objective.next_batch())
        assert count > 0 and math.isfinite(float(loss.detach()))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert objective.evaluate(model)["loss"] < before


def test_sum_gradient_keeps_the_mean_as_value():
    objective, plain = _objective(), _objective(sum_gradient=False)
    model = build_embedding_model(40, EmbeddingModelConfig(dim=8))
    torch.nn.init.normal_(model.output.weight)
    batch = objective.next_batch()
    summed, mean = objective.loss(model, batch), plain.loss(model, batch)
    assert float(summed.detach()) == pytest.approx(float(mean.detach()))
    summed.backward()
    grad_sum = model.input.weight.grad.clone()
    model.zero_grad()
    mean.backward()
    pairs = len(batch["owner"])
    assert torch.allclose(grad_sum, model.input.weight.grad * pairs, rtol=1e-4, atol=1e-6)


def planted_corpus(pairs=5, noise=30, sentences=3000, seed=0):
    """Pair i's two words appear in the same contexts (c_i1 _ c_i2), among noise words."""
    g = torch.Generator().manual_seed(seed)
    tokens = []
    for _ in range(sentences):
        i = int(torch.randint(pairs, (1,), generator=g))
        word = f"a{i}" if torch.rand(1, generator=g) < 0.5 else f"b{i}"
        tokens += [f"c{i}x", word, f"c{i}y"]
        tokens += [f"n{int(k)}" for k in torch.randint(noise, (2,), generator=g)]
    return tokens


def test_planted_pairs_end_up_nearest_each_other():
    torch.manual_seed(0)
    tokens = planted_corpus()
    words, counts = sg.count_vocabulary(tokens, 1)
    stream = sg.encode_known(tokens, words)
    objective = WordVectorObjective(stream, stream[:500], counts, "skipgram", 1, 2, 5, 0.0, 1024, 1)
    model = build_embedding_model(len(words), EmbeddingModelConfig(dim=16))
    optimizer = torch.optim.Adam(model.parameters(), 0.05)
    for _ in range(150):
        loss, _ = objective.step(model, objective.next_batch())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    vectors = model.vectors.detach()
    index = {w: i for i, w in enumerate(words)}
    for i in range(5):
        for word, partner in ((f"a{i}", f"b{i}"), (f"b{i}", f"a{i}")):
            query = torch.tensor([index[word]])
            _, found = wordsim.nearest(vectors, vectors[query], 1, query[:, None])
            assert words[int(found[0, 0])] == partner, (word, words[int(found[0, 0])])


def test_the_vocabulary_cut_off_and_a_corpus_too_small_are_errors():
    with pytest.raises(ValueError, match="--min-count 3: no word"):
        sg.count_vocabulary(["a", "b", "a"], 3)
    words, counts = sg.count_vocabulary(["b", "a", "b", "c", "a", "b"], 2)
    assert words == ["b", "a"] and counts.tolist() == [3, 2]
    assert sg.encode_known(["a", "c", "b"], words).tolist() == [1, 0]


def test_huffman_paths_give_frequent_words_short_codes_and_a_proper_distribution():
    from rnnkit.recipes.embeddings.huffman import huffman_paths
    from rnnkit.recipes.embeddings.model import _path_loss

    counts = torch.tensor([50.0, 20, 10, 8, 5, 3, 2, 1, 1])
    nodes, codes, mask = huffman_paths(counts)
    lengths = mask.sum(1)
    assert lengths[0] == lengths.min() and lengths[-1] == lengths.max()
    assert (nodes[:, 0] == len(counts) - 2).all() and int(nodes[mask].max()) == len(counts) - 2
    as_strings = ["".join(str(int(c)) for c in codes[w, : lengths[w]]) for w in range(len(counts))]
    assert len(set(as_strings)) == len(counts)
    assert not any(a != b and b.startswith(a) for a in as_strings for b in as_strings)  # prefix-free
    g = torch.Generator().manual_seed(0)
    centre, table = torch.randn(1, 4, generator=g), torch.randn(len(counts), 4, generator=g)
    signs = (1 - 2 * codes) * mask
    probability = 0.0
    for w in range(len(counts)):
        used = mask[w]
        loss = _path_loss(
            centre.expand(int(used.sum()), 4),
            table[nodes[w][used]],
            signs[w][used],
            torch.zeros(int(used.sum()), dtype=torch.long),
            1,
        )
        probability += float(torch.exp(-loss))
    assert probability == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("method", ["skipgram", "cbow"])
def test_hierarchical_softmax_trains(method):
    objective = _objective(method, hierarchical=True)
    batch = objective.next_batch()
    assert "negatives" not in batch and batch["path"].shape == batch["signs"].shape == batch["slot"].shape
    model = build_embedding_model(40, EmbeddingModelConfig(method=method, dim=16, output="hierarchical"))
    torch.nn.init.normal_(model.output.weight, std=0.1)
    optimizer = torch.optim.Adam(model.parameters(), 0.02)
    before = objective.evaluate(model)["loss"]
    for _ in range(30):
        loss, _ = objective.step(model, objective.next_batch())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert objective.evaluate(model)["loss"] < before
    with pytest.raises(ValueError, match="applies to skipgram and cbow"):
        build_embedding_model(40, EmbeddingModelConfig(method="ngram", output="hierarchical"))


def test_ngram_adaptive_softmax_is_a_normalised_distribution():
    """The adaptive N-gram loss is -log p(target) of a distribution summing to 1 over V."""
    torch.manual_seed(0)
    model = build_embedding_model(
        30, EmbeddingModelConfig(method="ngram", dim=4, hidden_size=6, adaptive_cutoffs="5,12")
    )
    contexts = torch.randint(0, 30, (7, 2))
    nll = torch.stack([model({"contexts": contexts, "target": torch.full((7,), t)}) for t in range(30)])
    assert torch.allclose((-nll).exp().sum(0), torch.ones(7), atol=1e-5)
