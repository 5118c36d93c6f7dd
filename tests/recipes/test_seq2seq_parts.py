"""The encoder-decoder's parts: the composition is the encoder and the decoder called by hand, the
checkpoint names stay, and the decoder attends over a memory no recurrent encoder made (an
image's annotation grid), with greedy and beam search on it and a float64 gradient check."""

import pytest
import torch
from torch import nn

from rnnkit.decode import beam_search, greedy_search
from rnnkit.export.layers import ExportRNN, for_export
from rnnkit.families.seq2seq.decoder import AttentionDecoder
from rnnkit.families.seq2seq.encoder import Memory, RecurrentEncoder
from rnnkit.families.seq2seq.model import Seq2Seq, Seq2SeqConfig

VARIANTS = [
    ("none", "general", False, "gru"),
    ("bahdanau", "general", False, "lstm"),
    ("luong", "general", True, "lstm"),
    ("luong", "dot", False, "gru"),
]
ids = lambda v: "-".join(map(str, v))  # noqa: E731


def model_of(attention, score, feeding, cell, **kw):
    torch.manual_seed(0)
    config = Seq2SeqConfig(
        cell=cell,
        embedding_dim=6,
        hidden_size=8,
        encoder_layers=2,
        decoder_layers=2,
        attention=attention,
        score=score,
        input_feeding=feeding,
        dropout=0.2,
        **kw,
    )
    return Seq2Seq(17, 13, config).double()


def batch():
    g = torch.Generator().manual_seed(1)
    src, lengths = torch.randint(4, 17, (3, 6), generator=g), torch.tensor([6, 4, 1])
    for row, n in enumerate(lengths.tolist()):
        src[row, n:] = 0
    return src, lengths, torch.randint(4, 13, (3, 5), generator=g)


@pytest.mark.parametrize("variant", VARIANTS, ids=ids)
def test_the_composition_is_the_encoder_then_the_decoder(variant):
    model = model_of(*variant)
    src, lengths, tgt = batch()
    encoder, decoder = model.source_encoder, model.target_decoder
    assert isinstance(encoder, RecurrentEncoder) and isinstance(decoder, AttentionDecoder)
    for ratio in (1.0, 0.5):  # training mode: the same dropout and sampling draws either way
        torch.manual_seed(3)
        whole = model(src, lengths, tgt, teacher_forcing=ratio)
        torch.manual_seed(3)
        by_hand = decoder(encoder(src, lengths), tgt, teacher_forcing=ratio)
        assert torch.equal(whole, by_hand)
    model.eval()
    assert not encoder.training and not decoder.training and not decoder.drop.training
    state, memory = model.start(src, lengths)
    state2, memory2 = decoder.start(encoder(src, lengths))
    assert list(state) == list(state2) and list(memory) == list(memory2)
    for a, b in zip([*state.values(), *memory.values()], [*state2.values(), *memory2.values()]):
        assert torch.equal(a, b)
    for t in range(tgt.shape[1]):
        mine, state, w1 = model.step(tgt[:, t], state, memory)
        theirs, state2, w2 = decoder.step(tgt[:, t], state2, memory2)
        assert torch.equal(mine, theirs) and (w1 is None) == (w2 is None)


def test_the_checkpoint_names_and_parameter_order_stay():
    model = model_of("luong", "general", True, "lstm")
    weights = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    encoder = [f"encoder.{w}_l{k}{s}" for k in (0, 1) for s in ("", "_reverse") for w in weights]
    decoder = [f"decoder.{w}_l{k}" for k in (0, 1) for w in weights]
    expected = (
        ["src_embedding.weight", "tgt_embedding.weight"]
        + encoder
        + ["bridge.weight", "bridge.bias", "bridge_cell.weight", "bridge_cell.bias"]
        + decoder
        + ["attention.key_proj.weight", "combine.weight", "combine.bias", "generator.weight", "generator.bias"]
    )
    assert list(model.state_dict()) == expected
    assert [name for name, _ in model.named_parameters()] == expected
    tied = model_of("none", "general", False, "gru", tie_embeddings=True)
    assert tied.generator.weight is tied.tgt_embedding.weight is tied.target_decoder.generator.weight
    assert "generator.weight" in tied.state_dict() and "bridge_cell.weight" not in tied.state_dict()


def test_replacing_a_module_on_the_model_replaces_it_in_its_part():
    model = for_export(model_of("bahdanau", "general", False, "lstm").float())
    assert isinstance(model.encoder, ExportRNN) and model.source_encoder.rnn is model.encoder
    assert isinstance(model.decoder, ExportRNN) and model.target_decoder.rnn is model.decoder
    src, lengths, _ = batch()
    assert model.start(src, lengths)[0]["h"].shape == (3, 2, 8)


def grid_memory(n=3, regions=5, channels=7, hidden=8, seed=0):
    """A CNN-like annotation grid (N, R, C) projected to (N, R, H); row 1 has 2 masked regions."""
    g = torch.Generator().manual_seed(seed)
    grid = torch.randn(n, regions, channels, generator=g, dtype=torch.float64)
    torch.manual_seed(seed)
    project = nn.Linear(channels, hidden).double()
    keys = torch.tanh(project(grid))
    mask = torch.ones(n, regions, dtype=torch.bool)
    mask[1, 3:] = False
    final = (keys * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)  # mean annotation (N, H)
    return Memory(keys, mask, final)


@pytest.mark.parametrize(
    "attention, score, cell",
    [
        ("luong", "general", "lstm"),
        ("bahdanau", "general", "gru"),
        ("luong", "concat", "gru"),
        ("none", "general", "lstm"),
    ],
)
def test_the_decoder_attends_over_an_image_grid_and_search_runs(attention, score, cell):
    torch.manual_seed(0)
    decoder = (
        AttentionDecoder(
            11,
            6,
            8,
            num_layers=2,
            cell=cell,
            attention=attention,
            score=score,
            input_feeding=attention == "luong",
            memory_size=10,
        )
        .double()
        .eval()
    )
    encoded = grid_memory(hidden=10)
    tgt = torch.randint(3, 11, (3, 4))
    with torch.no_grad():
        logits, weights = decoder(encoded, tgt, return_attention=True)
        assert logits.shape == (3, 4, 11)
        if attention != "none":
            assert weights.shape == (3, 4, 5) and torch.all(weights[1, :, 3:] == 0)
            torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4, dtype=torch.float64))
        state, memory = decoder.start(encoded)  # the search steps give the teacher-forced scores
        for t in range(4):
            log_probs, state, _ = decoder.step(tgt[:, t], state, memory)
            torch.testing.assert_close(log_probs, torch.log_softmax(logits[:, t], -1))
        limits = torch.tensor([6, 6, 4])
        greedy = greedy_search(decoder.step, *decoder.start(encoded), 3, 1, 2, limits)
        beam1 = beam_search(decoder.step, *decoder.start(encoded), 3, 1, 2, limits, beam=1)
        beam3 = beam_search(decoder.step, *decoder.start(encoded), 3, 1, 2, limits, beam=3, n_best=3)
    assert [h.tokens for h in greedy] == [hs[0].tokens for hs in beam1]
    assert all(len(hs) == 3 and len(hs[0].tokens) <= int(n) for hs, n in zip(beam3, limits))
    # what lies under the mask never matters
    scrambled = encoded._replace(memory=encoded.memory.masked_fill(~encoded.mask.unsqueeze(-1), 1e3))
    with torch.no_grad():
        torch.testing.assert_close(decoder(scrambled, tgt), logits)


def test_an_lstm_decoder_starts_from_one_vector_or_from_an_encoders_pair():
    torch.manual_seed(0)
    decoder = AttentionDecoder(11, 6, 8, memory_size=10).double()
    encoded = grid_memory(hidden=10)
    state, memory = decoder.start(encoded)
    assert set(state) == {"h", "c"} and state["c"].shape == (3, 1, 8)
    torch.testing.assert_close(state["c"][:, 0], torch.tanh(decoder.bridge_cell(encoded.final)))
    pair = decoder.start(encoded._replace(final=(encoded.final, -encoded.final)))[0]
    torch.testing.assert_close(pair["c"][:, 0], torch.tanh(decoder.bridge_cell(-encoded.final)))


@pytest.mark.parametrize("attention, cell", [("luong", "lstm"), ("bahdanau", "gru")])
def test_the_decoder_step_passes_a_float64_gradient_check(attention, cell):
    torch.manual_seed(0)
    decoder = (
        AttentionDecoder(7, 3, 4, cell=cell, attention=attention, input_feeding=attention == "luong", memory_size=5)
        .double()
        .eval()
    )
    encoded = grid_memory(n=2, regions=3, channels=4, hidden=5)
    keys = encoded.memory.detach().requires_grad_(True)
    embedded = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    summary = encoded.final.detach().requires_grad_(True)

    def one_step(embedded, keys, summary):
        state, memory = decoder.start(Memory(keys, encoded.mask, summary))
        attentional, state, weights = decoder.attend(embedded, state, memory)
        return attentional, state["h"], weights

    assert torch.autograd.gradcheck(one_step, (embedded, keys, summary))


def test_coverage_is_the_attention_each_position_has_had():
    """The state's coverage is the running sum of the weights; with w_c = 0 the decoder is the plain one
    (coverage made last: the other parameters are drawn alike), and with w_c != 0 only the steps after
    the first attend differently, since the first sees zero coverage; gradients reach w_c (float64)."""
    grid = Memory(torch.randn(2, 9, 10).double(), torch.ones(2, 9, dtype=torch.bool), torch.randn(2, 10).double())
    torch.manual_seed(0)
    plain = AttentionDecoder(11, 6, 8, attention="bahdanau", memory_size=10).double()
    torch.manual_seed(0)
    covered = AttentionDecoder(11, 6, 8, attention="bahdanau", memory_size=10, coverage=True).double()
    tokens = torch.tensor([[1, 4, 5, 6], [1, 7, 8, 9]])
    with torch.no_grad():
        covered.coverage.weight.zero_()
        torch.testing.assert_close(covered(grid, tokens), plain(grid, tokens))
        covered.coverage.weight.normal_()
        state, memory = covered.start(grid)
        total = torch.zeros(2, 9, dtype=torch.float64)
        steps = []
        for t in range(tokens.shape[1]):
            _, state, weights = covered.step(tokens[:, t], state, memory)
            total += weights
            torch.testing.assert_close(state["coverage"], total)
            steps.append(weights)
        _, plain_weights = plain(grid, tokens, return_attention=True)
    torch.testing.assert_close(steps[0], plain_weights[:, 0])
    assert not torch.allclose(steps[1], plain_weights[:, 1])
    loss = covered(grid, tokens).sum()
    loss.backward()
    assert covered.coverage.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="needs bahdanau"):
        AttentionDecoder(11, 6, 8, attention="luong", coverage=True)
