"""The language model's shapes and options, and sampling filters."""
import pytest
import torch

from rnnkit.decode import filter_logits, generate, sample_token
from rnnkit.models.lm import LMConfig, RNNLanguageModel


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
    draws = {int(sample_token(logits, 1.0, top_k=2, generator=torch.Generator().manual_seed(s)))
             for s in range(50)}
    assert draws == {0, 1}


def test_generate_carries_state_one_step_per_token_and_checks_settings():
    calls = []

    def step(tokens, state):
        calls.append(tokens.shape[1])
        state = (state or 0) + tokens.shape[1]
        return torch.zeros(1, tokens.shape[1], 5).index_fill_(2, torch.tensor([state % 5]), 9.0), state

    out = list(generate(step, torch.tensor([1, 2, 3]), length=4, temperature=0))
    assert calls == [3, 1, 1, 1]  # the prime once, then one step per new token
    assert out == [3, 4, 0, 1]     # greedy follows the carried state
    with pytest.raises(ValueError, match="top_p: expected a number in \\(0, 1\\]"):
        list(generate(step, torch.tensor([1]), 2, top_p=0.0))
    for bad in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="temperature: expected a finite number >= 0"):
            list(generate(step, torch.tensor([1]), 2, temperature=bad))


def test_dropout_never_deletes_one_hot_characters():
    model = RNNLanguageModel(7, LMConfig(embedding_dim=0, hidden_size=8, num_layers=1, dropout=0.5))
    seen = []
    model.rnn.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    model.train()
    model(torch.randint(0, 7, (4, 6)))
    assert torch.equal(seen[0].sum(-1), torch.ones(4, 6))  # every input still one-hot
