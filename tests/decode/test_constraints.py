"""Search constraints: n-gram blocking and the repetition penalty, alone and inside greedy and beam search."""

import math

import pytest
import torch

from rnnkit.decode import beam_search, forbid, greedy_search, no_repeat_ngram, repetition_penalty

SOS, EOS, A, B, C = 0, 1, 2, 3, 4
# next-token log-probabilities given the previous token: a <-> b loop, c a fallback, eos unlikely
TABLE = torch.log_softmax(
    torch.tensor(
        [
            [-9.0, -9.0, 3.0, 1.0, 0.5],  # after sos: a
            [-9.0, -9.0, 0.0, 0.0, 0.0],  # after eos (never used)
            [-9.0, -4.0, -1.0, 3.0, 1.0],  # after a: b
            [-9.0, -4.0, 3.0, -1.0, 1.0],  # after b: a
            [-9.0, 0.5, 1.0, 0.8, -1.0],  # after c: a, b or the end
        ],
        dtype=torch.float64,
    ),
    dim=-1,
)


def step(tokens, state, context):
    return TABLE[tokens], state, None


def decode(constrain=None, beam=0, rows=2, limit=9):
    state = torch.zeros(rows, 1, dtype=torch.float64)
    lengths = torch.full((rows,), limit)
    if beam:
        return [
            h[0].tokens
            for h in beam_search(step, state, state, rows, SOS, EOS, lengths, beam=beam, constrain=constrain)
        ]
    return [h.tokens for h in greedy_search(step, state, state, rows, SOS, EOS, lengths, constrain=constrain)]


def ngrams(tokens, n):
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def test_without_a_constraint_the_toy_decoder_loops():
    out = decode()[0]
    assert out == [A, B] * 4 + [A]


@pytest.mark.parametrize("beam", [0, 1, 3])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_no_ngram_repeats_in_the_output(n, beam):
    for tokens in decode(no_repeat_ngram(n), beam=beam):
        grams = ngrams(tokens, n)
        assert len(grams) == len(set(grams)), (n, beam, tokens)
        assert tokens  # it still says something


def test_beam_one_with_a_constraint_is_greedy_with_it():
    for n in (2, 3):
        assert decode(no_repeat_ngram(n), beam=1) == decode(no_repeat_ngram(n))


def test_no_repeat_ngram_blocks_exactly_the_completions_seen():
    log_probs = torch.zeros(2, 6)
    history = torch.tensor([[1, 2, 3, 1, 2], [4, 4, 5, 0, 4]])
    out3 = no_repeat_ngram(3)(log_probs, history)
    assert torch.isinf(out3[0]).nonzero().flatten().tolist() == [3]  # (1, 2) -> 3 was seen
    assert torch.isinf(out3[1]).nonzero().flatten().tolist() == []  # (0, 4) never began a 3-gram
    out2 = no_repeat_ngram(2)(log_probs, history)
    assert torch.isinf(out2[0]).nonzero().flatten().tolist() == [3]  # after 2 came 3
    assert torch.isinf(out2[1]).nonzero().flatten().tolist() == [4, 5]  # after 4 came 4 and 5
    out1 = no_repeat_ngram(1)(log_probs, history)
    assert torch.isinf(out1[1]).nonzero().flatten().tolist() == [0, 4, 5]
    assert torch.equal(no_repeat_ngram(3)(log_probs, history[:, :2]), log_probs)  # no whole 3-gram yet
    assert torch.equal(log_probs, torch.zeros(2, 6))  # the input is not changed in place


def test_repetition_penalty_divides_seen_probabilities_and_renormalises():
    log_probs = torch.log_softmax(torch.tensor([[1.0, 2.0, 0.5, 0.0]], dtype=torch.float64), -1)
    history = torch.tensor([[1, 1, 3]])
    out = repetition_penalty(2.0)(log_probs, history)
    p, q = log_probs.exp()[0], out.exp()[0]
    raw = p.clone()
    raw[[1, 3]] /= 2.0
    torch.testing.assert_close(q, raw / raw.sum())
    assert math.isclose(float(q.sum()), 1.0)
    assert torch.equal(repetition_penalty(1.0)(log_probs, history), log_probs)
    with_penalty = decode(repetition_penalty(50.0))[0]
    assert with_penalty != decode()[0] and C in with_penalty


@pytest.mark.parametrize("beam", [0, 3])
def test_forbidden_tokens_never_appear_and_the_rest_is_unchanged(beam):
    assert B in decode(beam=beam)[0]
    for tokens in decode(forbid([B]), beam=beam):
        assert B not in tokens and tokens
    log_probs = torch.log_softmax(torch.randn(3, 5, dtype=torch.float64), -1)
    out = forbid([1, 3])(log_probs, torch.zeros(3, 0, dtype=torch.long))
    assert torch.isinf(out[:, [1, 3]]).all() and torch.equal(out[:, [0, 2, 4]], log_probs[:, [0, 2, 4]])


@pytest.mark.parametrize(
    "make, value, message",
    [
        (no_repeat_ngram, 0, "an integer from 1 to 100"),
        (no_repeat_ngram, 101, "an integer from 1 to 100"),
        (forbid, [], "at least one"),
        (repetition_penalty, 0.5, "a number from 1 to 100"),
        (repetition_penalty, 1e308, "a number from 1 to 100"),
        (repetition_penalty, float("nan"), "a number from 1 to 100"),
    ],
)
def test_bad_constraint_arguments(make, value, message):
    with pytest.raises(ValueError, match=message):
        make(value)


def test_greedy_search_with_a_sampling_pick_is_seeded_and_scored():
    from rnnkit.decode import sample_token

    state = torch.zeros(4, 1, dtype=torch.float64)

    def run(seed):
        g = torch.Generator().manual_seed(seed)
        pick = lambda lp: sample_token(lp, temperature=1.5, generator=g)  # noqa: E731
        return greedy_search(step, state, state, 4, SOS, EOS, torch.full((4,), 9), pick=pick)

    first, again, other = run(0), run(0), run(1)
    assert [h.tokens for h in first] == [h.tokens for h in again]
    assert [h.tokens for h in first] != [h.tokens for h in other]
    for h in first:  # the score is the log-probability of what was drawn
        prev, total = [SOS] + h.tokens, 0.0
        for a, b in zip(prev, h.tokens + ([EOS] if h.finished else [])):
            total += float(TABLE[a, b])
        assert h.score == pytest.approx(total)
