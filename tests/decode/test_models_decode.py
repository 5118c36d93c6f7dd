"""The language model's shapes and options, and sampling filters."""

import pytest
import torch

from rnnkit.decode import filter_logits, generate, sample_token
from rnnkit.families.lm import LMConfig, RNNLanguageModel


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_language_model_shapes_and_state(cell):
    model = RNNLanguageModel(11, LMConfig(cell=cell, embedding_dim=8, hidden_size=16, num_layers=2))
    tokens = torch.randint(0, 11, (3, 5))
    logits, state = model(tokens)
    assert logits.shape == (3, 5, 11)
    zeros = model.init_state(3)
    parts = state if isinstance(state, tuple) else (state,)
    assert all(p.shape == (2, 3, 16) for p in parts)
    assert [z.shape for z in (zeros if isinstance(zeros, tuple) else (zeros,))] == [p.shape for p in parts]
    # carrying the state continues the sequence: two halves equal the whole
    first, mid = model(tokens[:, :2])
    second, _ = model(tokens[:, 2:], mid)
    torch.testing.assert_close(torch.cat([first, second], 1), logits)


def test_one_hot_input_and_weight_tying():
    one_hot = RNNLanguageModel(7, LMConfig(embedding_dim=0, hidden_size=8, num_layers=1))
    assert one_hot.embedding is None and one_hot.rnn.input_size == 7
    assert one_hot(torch.randint(0, 7, (2, 4)))[0].shape == (2, 4, 7)
    tied = RNNLanguageModel(7, LMConfig(embedding_dim=8, hidden_size=8, num_layers=1, tie_weights=True))
    assert tied.decoder.weight is tied.embedding.weight
    with pytest.raises(ValueError, match="tie_weights needs embedding_dim == hidden_size, got 4 and 8"):
        RNNLanguageModel(7, LMConfig(embedding_dim=4, hidden_size=8, tie_weights=True))
    with pytest.raises(ValueError, match="cell: expected one of"):
        RNNLanguageModel(7, LMConfig(cell="tcn"))


def test_top_k_and_top_p_filters():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    kept = torch.isfinite(filter_logits(logits, top_k=2))
    assert kept.tolist() == [[True, True, False, False]]
    kept = torch.isfinite(filter_logits(logits, top_p=0.7))  # 0.5 < 0.7 <= 0.8
    assert kept.tolist() == [[True, True, False, False]]
    kept = torch.isfinite(filter_logits(logits, top_p=0.1))  # the top token always stays
    assert kept.tolist() == [[True, False, False, False]]
    assert sample_token(logits, temperature=0).tolist() == [0]
    draws = {int(sample_token(logits, 1.0, top_k=2, generator=torch.Generator().manual_seed(s))) for s in range(50)}
    assert draws == {0, 1}


def test_generate_carries_state_one_step_per_token_and_checks_settings():
    calls = []

    def step(tokens, state):
        calls.append(tokens.shape[1])
        state = (state or 0) + tokens.shape[1]
        return torch.zeros(1, tokens.shape[1], 5).index_fill_(2, torch.tensor([state % 5]), 9.0), state

    out = list(generate(step, torch.tensor([1, 2, 3]), length=4, temperature=0))
    assert calls == [3, 1, 1, 1]  # the prime once, then one step per new token
    assert out == [3, 4, 0, 1]  # greedy follows the carried state
    with pytest.raises(ValueError, match="top_p: expected a number in \\(0, 1\\]"):
        list(generate(step, torch.tensor([1]), 2, top_p=0.0))
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"temperature: expected a number from 0 to 100 \(0 = greedy\)"):
            list(generate(step, torch.tensor([1]), 2, temperature=bad))


def test_dropout_never_deletes_one_hot_characters():
    model = RNNLanguageModel(7, LMConfig(embedding_dim=0, hidden_size=8, num_layers=1, dropout=0.5))
    seen = []
    model.rnn.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    model.train()
    model(torch.randint(0, 7, (4, 6)))
    assert torch.equal(seen[0].sum(-1), torch.ones(4, 6))  # every input still one-hot


@pytest.mark.parametrize("temperature", [1e-300, 1e-45, 1e-30, 5e-324])
def test_a_tiny_temperature_is_greedy_not_nan(temperature):
    # issue 28: 1e-300 and 1e-45 ended in "probability tensor contains inf/nan"
    logits = torch.randn(64, 50, generator=torch.Generator().manual_seed(0)) * 5
    for seed in range(3):
        drawn = sample_token(logits, temperature, generator=torch.Generator().manual_seed(seed))
        assert torch.equal(drawn, logits.argmax(-1))
    tied = torch.tensor([[2.0, 2.0, -1.0, float("-inf")]])  # ties stay a fair draw, never a blocked token
    draws = {int(sample_token(tied, temperature, generator=torch.Generator().manual_seed(s))) for s in range(40)}
    assert draws == {0, 1}


def test_a_tiny_top_p_keeps_the_most_likely_token_alone():
    logits = torch.randn(8, 30, generator=torch.Generator().manual_seed(1))
    for top_p in (1e-300, 1e-45, 1e-9):
        kept = torch.isfinite(filter_logits(logits, top_p=top_p))
        assert kept.sum(-1).tolist() == [1] * 8 and kept.gather(1, logits.argmax(-1, keepdim=True)).all()
        assert torch.equal(sample_token(logits, 1.0, top_p=top_p), logits.argmax(-1))


def test_sampling_settings_have_a_range_with_a_maximum():
    def step(tokens, state):
        return torch.zeros(1, tokens.shape[1], 5), state

    for settings, message in [
        ({"temperature": 101.0}, r"temperature: expected a number from 0 to 100"),
        ({"temperature": 1e308}, r"temperature: expected a number from 0 to 100"),
        ({"top_k": 100_001}, r"top_k: expected an integer from 0 to 100,000"),
        ({"top_k": -1}, r"top_k: expected an integer from 0 to 100,000"),
        ({"top_p": 1.5}, r"top_p: expected a number in \(0, 1\]"),
        ({"length": 100_001}, r"length: expected an integer from 0 to 100,000"),
    ]:
        kwargs = {"length": 2, **settings}
        with pytest.raises(ValueError, match=message):
            list(generate(step, torch.tensor([1]), **kwargs))
    # the ends are taken: a huge temperature is an almost uniform draw
    assert len(list(generate(step, torch.tensor([1]), 3, temperature=100.0, top_k=100_000))) == 3


def test_generation_stops_at_the_time_limit_of_rnnkit_serve():
    from rnnkit import deadline

    steps = []

    def step(tokens, state):
        steps.append(1)
        return torch.zeros(1, tokens.shape[1], 5), state

    with deadline.limit(0.0):
        with pytest.raises(deadline.WorkTimeout):
            list(generate(step, torch.tensor([1]), 100_000))
    assert len(steps) <= 2  # the prime, then the first check stops it
    assert len(list(generate(step, torch.tensor([1]), 5))) == 5  # outside a limit: never stops
