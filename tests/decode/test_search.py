"""Batched greedy and beam search on a tiny random attention decoder (float64)."""

import itertools

import pytest
import torch

from rnnkit.decode import Hypothesis, beam_search, greedy_search, map_state

SOS, EOS = 0, 1


class ToyDecoder:
    """A random GRU-cell decoder with dot attention over a per-row source (R, S, H).

    State: ``(hidden (R, H), {"feed": (R, H), "time": (R,)})``; context: ``(source (R, S, H),
    mask (R, S))``. The eos logit grows with the step so that sentences end.
    """

    def __init__(self, vocab=9, hidden=6, seed=0, eos_rate=0.5):
        torch.manual_seed(seed)
        self.vocab, self.hidden, self.eos_rate = vocab, hidden, eos_rate
        self.embedding = torch.randn(vocab, hidden, dtype=torch.float64)
        self.cell = torch.nn.GRUCell(2 * hidden, hidden).double()
        self.out = torch.nn.Linear(2 * hidden, vocab).double()
        self.calls = []

    def inputs(self, batch, source_len=5, seed=1):
        """(state, context) of ``batch`` sentences with sources of different lengths."""
        generator = torch.Generator().manual_seed(seed)
        source = 2 * torch.randn(batch, source_len, self.hidden, generator=generator, dtype=torch.float64)
        lengths = torch.randint(2, source_len + 1, (batch,), generator=generator)
        mask = torch.arange(source_len) < lengths.unsqueeze(1)
        hidden = torch.tanh((source * mask.unsqueeze(2)).sum(1) / lengths.unsqueeze(1))
        state = (hidden, {"feed": torch.zeros_like(hidden), "time": torch.zeros(batch, dtype=torch.float64)})
        return state, (source, mask)

    @torch.no_grad()
    def step(self, tokens, state, context):
        self.calls.append(len(tokens))
        hidden, extra = state
        source, mask = context
        hidden = self.cell(torch.cat([self.embedding[tokens], extra["feed"]], 1), hidden)
        scores = torch.bmm(source, hidden.unsqueeze(2)).squeeze(2).masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=1)  # (R, S)
        summary = torch.bmm(weights.unsqueeze(1), source).squeeze(1)
        logits = self.out(torch.cat([hidden, summary], 1))
        logits[:, EOS] += self.eos_rate * extra["time"]
        new_state = (hidden, {"feed": summary, "time": extra["time"] + 1})
        return torch.log_softmax(logits, dim=1), new_state, weights


def one(structure, b):
    return map_state(lambda tensor: tensor[b : b + 1], structure)


def replay(model, state, context, hypothesis):
    """Score and attention (T, S) of a hypothesis recomputed one step at a time."""
    score, weights, token = 0.0, [], SOS
    for nxt in hypothesis.tokens + ([EOS] if hypothesis.finished else []):
        log_probs, state, attention = model.step(torch.tensor([token]), state, context)
        score += float(log_probs[0, nxt])
        weights.append(attention[0])
        token = nxt
    return score, torch.stack(weights) if weights else None


def assert_same(left, right):
    assert [h.tokens for h in left] == [h.tokens for h in right]
    assert [h.finished for h in left] == [h.finished for h in right]
    torch.testing.assert_close(torch.tensor([h.score for h in left]), torch.tensor([h.score for h in right]))
    for a, b in zip(left, right):
        torch.testing.assert_close(a.attention, b.attention)


MAX_LENGTHS = torch.tensor([1, 3, 5, 8, 12, 20])


def test_map_state_keeps_nesting_and_names_bad_types():
    from collections import namedtuple

    Pair = namedtuple("Pair", "h c")
    state = (torch.ones(2), [Pair(torch.zeros(2), None)], {"k": torch.arange(2)})
    doubled = map_state(lambda t: t * 2, state)
    assert isinstance(doubled, tuple) and isinstance(doubled[1], list) and isinstance(doubled[1][0], Pair)
    assert doubled[0].tolist() == [2, 2] and doubled[1][0].c is None and doubled[2]["k"].tolist() == [0, 2]
    with pytest.raises(TypeError, match="got int"):
        map_state(lambda t: t, (torch.ones(1), 3))


def test_beam_one_is_greedy():
    model = ToyDecoder()
    state, context = model.inputs(6)
    greedy = greedy_search(model.step, state, context, 6, SOS, EOS, MAX_LENGTHS)
    beam = beam_search(model.step, state, context, 6, SOS, EOS, MAX_LENGTHS, beam=1)
    assert all(len(hyps) == 1 for hyps in beam)
    assert_same(greedy, [hyps[0] for hyps in beam])
    # the fixture is not trivial: some sentences end with eos, some are cut
    assert {h.finished for h in greedy} == {True, False}


@pytest.mark.parametrize("beam", [0, 3, 5])  # 0: greedy search
def test_batch_gives_the_same_as_each_sentence_alone(beam):
    model = ToyDecoder(seed=2)
    state, context = model.inputs(6, seed=3)

    def decode(state, context, lengths):
        if beam == 0:
            return [[h] for h in greedy_search(model.step, state, context, len(lengths), SOS, EOS, lengths)]
        return beam_search(model.step, state, context, len(lengths), SOS, EOS, lengths, beam=beam, n_best=beam)

    batched = decode(state, context, MAX_LENGTHS)
    for b in range(6):
        assert_same(batched[b], decode(one(state, b), one(context, b), MAX_LENGTHS[b : b + 1])[0])
    # other companions, in another order: same results
    order = torch.tensor([4, 0, 5, 2])
    mixed = decode(map_state(lambda t: t[order], state), map_state(lambda t: t[order], context), MAX_LENGTHS[order])
    for i, b in enumerate(order.tolist()):
        assert_same(mixed[i], batched[b])


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_beam_is_at_least_as_good_as_greedy(length_penalty):
    # not a theorem for beam search, but it holds on this fixture and catches a broken search
    model = ToyDecoder(seed=4)
    state, context = model.inputs(6, seed=5)
    lengths = torch.full((6,), 12)
    greedy = greedy_search(model.step, state, context, 6, SOS, EOS, lengths)
    beam = beam_search(model.step, state, context, 6, SOS, EOS, lengths, beam=5, length_penalty=length_penalty)
    better = 0
    for g, (b,) in zip(greedy, beam):
        assert b.finished >= g.finished
        if b.finished == g.finished:
            assert b.normalised_score(length_penalty) >= g.normalised_score(length_penalty) - 1e-12
            better += b.normalised_score(length_penalty) > g.normalised_score(length_penalty) + 1e-9
    assert better >= 1  # beam search found something greedy search missed


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_a_wide_beam_ranks_every_sequence_like_exhaustive_search(length_penalty):
    model = ToyDecoder(vocab=4, hidden=5, seed=6, eos_rate=0.3)
    state, context = model.inputs(3, seed=7)
    steps, beam = 3, 40  # 4 + 12 + 36 candidates per step all fit in the beam: nothing is pruned
    lengths = torch.full((3,), steps)
    found = beam_search(
        model.step, state, context, 3, SOS, EOS, lengths, beam=beam, length_penalty=length_penalty, n_best=beam
    )
    others = [t for t in range(4) if t != EOS]
    for b in range(3):
        every = [
            Hypothesis(list(ids), 0.0, None, True) for n in range(steps) for ids in itertools.product(others, repeat=n)
        ]
        every += [Hypothesis(list(ids), 0.0, None, False) for ids in itertools.product(others, repeat=steps)]
        for h in every:
            h.score = replay(model, one(state, b), one(context, b), h)[0]
        every.sort(key=lambda h: (not h.finished, -h.normalised_score(length_penalty)))
        assert len(found[b]) == len(every) == 13 + 27
        assert [(h.tokens, h.finished) for h in found[b]] == [(h.tokens, h.finished) for h in every]
        torch.testing.assert_close(torch.tensor([h.score for h in found[b]]), torch.tensor([h.score for h in every]))


def test_lengths_flags_attention_and_n_best_order():
    model = ToyDecoder(seed=8)
    state, context = model.inputs(6, seed=9)
    lengths = torch.tensor([0, 1, 2, 4, 7, 15])
    results = beam_search(model.step, state, context, 6, SOS, EOS, lengths, beam=4, length_penalty=0.7, n_best=4)
    assert results[0] == [Hypothesis([], 0.0, None, False)]  # no step allowed
    mask = context[1]
    kinds = set()
    for b in range(1, 6):
        hyps = results[b]
        assert 1 <= len(hyps) <= 4
        keys = [(not h.finished, -h.normalised_score(0.7)) for h in hyps]
        assert keys == sorted(keys)
        for h in hyps:
            kinds.add(h.finished)
            limit = int(lengths[b])
            assert len(h.tokens) < limit if h.finished else len(h.tokens) == limit
            assert EOS not in h.tokens
            assert h.attention.shape == (h.length, mask.shape[1])
            torch.testing.assert_close(h.attention.sum(1), torch.ones(h.length, dtype=torch.float64))
            assert bool((h.attention[:, ~mask[b]] == 0).all())
    assert kinds == {True, False}


@pytest.mark.parametrize("beam", [0, 4])
def test_scores_and_attention_replay(beam):
    model = ToyDecoder(seed=10)
    state, context = model.inputs(5, seed=11)
    lengths = torch.tensor([3, 6, 9, 12, 16])
    if beam:
        results = beam_search(model.step, state, context, 5, SOS, EOS, lengths, beam=beam, n_best=beam)
    else:
        results = [[h] for h in greedy_search(model.step, state, context, 5, SOS, EOS, lengths)]
    for b, hyps in enumerate(results):
        for h in hyps:
            score, attention = replay(model, one(state, b), one(context, b), h)
            assert h.score == pytest.approx(score, abs=1e-10)
            torch.testing.assert_close(h.attention, attention)


@pytest.mark.parametrize("beam", [0, 3])
def test_done_sentences_leave_the_batch(beam):
    model = ToyDecoder(seed=12)
    state, context = model.inputs(6, seed=13)
    if beam:
        beam_search(model.step, state, context, 6, SOS, EOS, MAX_LENGTHS, beam=beam)
    else:
        greedy_search(model.step, state, context, 6, SOS, EOS, MAX_LENGTHS)
    rows = model.calls
    width = max(beam, 1)
    assert rows[0] == 6 * width and all(r % width == 0 for r in rows)
    assert rows == sorted(rows, reverse=True) and rows[-1] <= width  # only the longest is left
    assert len(rows) <= int(MAX_LENGTHS.max())
    assert rows[1] == 5 * width  # max length 1 is done after one step


def test_step_without_attention_and_bad_arguments():
    model = ToyDecoder()
    state, context = model.inputs(2)

    def step(tokens, state, context):
        log_probs, state, _ = model.step(tokens, state, context)
        return log_probs, state, None

    lengths = torch.tensor([4, 6])
    assert all(h.attention is None for h in greedy_search(step, state, context, 2, SOS, EOS, lengths))
    assert all(
        h.attention is None for hyps in beam_search(step, state, context, 2, SOS, EOS, lengths, beam=2) for h in hyps
    )
    with pytest.raises(ValueError, match=r"max_lengths: expected shape \(3,\)"):
        greedy_search(step, state, context, 3, SOS, EOS, lengths)
    with pytest.raises(ValueError, match="beam: expected an integer from 1 to 64, got 0"):
        beam_search(step, state, context, 2, SOS, EOS, lengths, beam=0)
    with pytest.raises(ValueError, match="n_best: expected"):
        beam_search(step, state, context, 2, SOS, EOS, lengths, beam=2, n_best=3)


def test_search_work_is_bounded_by_named_ranges():
    # issue 28: beam 100000 ran past a minute, length penalty 1e308 overflowed, max_ratio 1e6 ran for minutes
    model = ToyDecoder()
    state, context = model.inputs(2)
    lengths = torch.tensor([4, 6])
    for kwargs, message in [
        ({"beam": 65}, "beam: expected an integer from 1 to 64, got 65"),
        ({"beam": 100_000}, "beam: expected an integer from 1 to 64"),
        ({"length_penalty": 1e308}, "length_penalty: expected a number from 0 to 10"),
        ({"length_penalty": -0.5}, "length_penalty: expected a number from 0 to 10"),
        ({"length_penalty": float("nan")}, "length_penalty: expected a number from 0 to 10"),
    ]:
        with pytest.raises(ValueError, match=message):
            beam_search(model.step, state, context, 2, SOS, EOS, lengths, **kwargs)
    for search in (greedy_search, beam_search):
        with pytest.raises(ValueError, match="max_lengths: expected at most 10,000 steps per sentence, got 10,001"):
            search(model.step, state, context, 2, SOS, EOS, torch.tensor([4, 10_001]))
    assert len(beam_search(model.step, state, context, 2, SOS, EOS, lengths, beam=64, length_penalty=10.0)) == 2


@pytest.mark.parametrize("search", [greedy_search, beam_search])
def test_a_search_stops_at_the_time_limit_of_rnnkit_serve(search):
    from rnnkit import deadline

    model = ToyDecoder(eos_rate=0.0)
    state, context = model.inputs(2)
    with deadline.limit(0.0), pytest.raises(deadline.WorkTimeout):
        search(model.step, state, context, 2, SOS, EOS, torch.tensor([10_000, 10_000]))
    assert len(model.calls) <= 2  # not the 10,000 steps asked for
