"""Attention and the encoder-decoder: masks, padding invariance, the fast path against the step
loop, search on the real model (beam 1 = greedy, batched = one at a time), gradients."""

import pytest
import torch

from rnnkit.decode import beam_search, greedy_search
from rnnkit.families.seq2seq.model import Seq2Seq, Seq2SeqConfig
from rnnkit.nn import Attention

VARIANTS = [
    ("none", "general", False, "gru"),
    ("bahdanau", "general", False, "lstm"),
    ("luong", "dot", False, "lstm"),
    ("luong", "general", True, "gru"),
    ("luong", "concat", False, "gru"),
]


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
    return Seq2Seq(17, 13, config).double().eval()


def padded_batch(lengths, width, vocab=17, seed=1):
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(4, vocab, (len(lengths), width), generator=g)
    for row, n in enumerate(lengths):
        src[row, n:] = 0
    return src, torch.tensor(lengths)


@pytest.mark.parametrize("score", ["dot", "general", "additive"])
def test_attention_gives_padding_no_weight_and_ignores_what_is_there(score):
    torch.manual_seed(0)
    attn = Attention(5, 5, score).double()
    keys = torch.randn(3, 6, 5, dtype=torch.float64)
    mask = torch.arange(6).unsqueeze(0) < torch.tensor([6, 3, 1]).unsqueeze(1)
    query = torch.randn(3, 4, 5, dtype=torch.float64)
    context, weights = attn(query, keys, mask)
    assert context.shape == (3, 4, 5) and weights.shape == (3, 4, 6)
    assert torch.all(weights[~mask.unsqueeze(1).expand_as(weights)] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 4, dtype=torch.float64))
    scrambled = keys.clone()
    scrambled[~mask] = 1e3 * torch.randn(int((~mask).sum()), 5, dtype=torch.float64)
    again, _ = attn(query, scrambled, mask)
    torch.testing.assert_close(again, context)
    single, w1 = attn(query[:, 0], keys, mask)  # one query per row
    torch.testing.assert_close(single, context[:, 0])
    torch.testing.assert_close(w1, weights[:, 0])


def test_dot_attention_equals_its_definition():
    torch.manual_seed(0)
    q, k = torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 3, 4, dtype=torch.float64)
    mask = torch.tensor([[True, True, False], [True, True, True]])
    context, weights = Attention(4, 4, "dot")(q, k, mask)
    for n in range(2):
        real = int(mask[n].sum())
        w = torch.softmax(k[n, :real] @ q[n], 0)
        torch.testing.assert_close(weights[n, :real], w)
        torch.testing.assert_close(context[n], w @ k[n, :real])


def test_attention_rejects_bad_configs():
    with pytest.raises(ValueError, match="score"):
        Attention(4, 4, "cosine")
    with pytest.raises(ValueError, match="equal query and key sizes"):
        Attention(4, 6, "dot")


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v)))
def test_a_sentence_does_not_change_when_padded_more(variant):
    model = model_of(*variant)
    src, lengths = padded_batch([7, 4, 2], 7)
    tgt = torch.randint(4, 13, (3, 5))
    logits, weights = model(src, lengths, tgt, return_attention=True)
    wider = torch.cat([src, torch.zeros(3, 5, dtype=torch.long)], dim=1)
    logits2, weights2 = model(wider, lengths, tgt, return_attention=True)
    torch.testing.assert_close(logits2, logits)
    alone = model(src[1:2, :4], lengths[1:2], tgt[1:2])
    torch.testing.assert_close(alone, logits[1:2])
    if weights is not None:
        assert torch.all(weights2[:, :, 7:] == 0) and torch.all(weights[1, :, 4:] == 0)


WHOLE = [v for v in VARIANTS if v[0] == "none" or (v[0] == "luong" and not v[2])]


@pytest.mark.parametrize("variant", WHOLE, ids=lambda v: "-".join(map(str, v)))
def test_fast_path_equals_the_step_loop(variant):
    model = model_of(*variant)
    assert model.can_run_whole()
    src, lengths = padded_batch([6, 3], 6)
    tgt = torch.randint(4, 13, (2, 4))
    whole = model(src, lengths, tgt)
    state, memory = model.encode(src, lengths)
    loop, _ = model.target_decoder.loop(tgt, model.tgt_embedding(tgt), state, memory, 1.0)
    torch.testing.assert_close(whole, loop)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: "-".join(map(str, v)))
def test_search_steps_reproduce_the_teacher_forced_scores(variant):
    model = model_of(*variant)
    src, lengths = padded_batch([5, 3], 5)
    tgt = torch.randint(4, 13, (2, 4))
    logits = torch.log_softmax(model(src, lengths, tgt), -1)
    state, memory = model.start(src, lengths)
    for t in range(4):
        log_probs, state, _ = model.step(tgt[:, t], state, memory)
        torch.testing.assert_close(log_probs, logits[:, t])


@pytest.mark.parametrize("variant", VARIANTS[:4], ids=lambda v: "-".join(map(str, v)))
def test_beam_one_is_greedy_and_batched_beam_is_one_at_a_time(variant):
    model = model_of(*variant)
    src, lengths = padded_batch([7, 5, 3, 2], 7, seed=3)
    limits = torch.tensor([9, 9, 6, 6])
    with torch.no_grad():
        greedy = greedy_search(model.step, *model.start(src, lengths), 4, 1, 2, limits)
        beam1 = beam_search(model.step, *model.start(src, lengths), 4, 1, 2, limits, beam=1)
        beam4 = beam_search(model.step, *model.start(src, lengths), 4, 1, 2, limits, beam=4)
        for row in range(4):
            assert beam1[row][0].tokens == greedy[row].tokens
            n = int(lengths[row])
            alone = beam_search(
                model.step,
                *model.start(src[row : row + 1, :n], lengths[row : row + 1]),
                1,
                1,
                2,
                limits[row : row + 1],
                beam=4,
            )
            assert alone[0][0].tokens == beam4[row][0].tokens
            assert alone[0][0].score == pytest.approx(beam4[row][0].score, abs=1e-9)


def test_teacher_forcing_zero_reads_its_own_greedy_predictions_and_trains():
    model = model_of("luong", "general", True, "lstm")  # eval mode: no dropout, so no random draws differ
    src, lengths = padded_batch([5, 4, 3], 5)
    tgt = torch.randint(4, 13, (3, 6))
    forced = model(src, lengths, tgt, teacher_forcing=1.0)
    free = model(src, lengths, tgt, teacher_forcing=0.0)
    torch.testing.assert_close(free[:, 0], forced[:, 0])  # the first step reads <sos>-position gold either way
    assert not torch.allclose(free, forced)
    state, memory = model.start(src, lengths)  # by hand: feed each step's argmax
    tokens, manual = tgt[:, 0], []
    for _ in range(tgt.shape[1]):
        log_probs, state, _ = model.step(tokens, state, memory)
        manual.append(log_probs)
        tokens = log_probs.argmax(-1)
    torch.testing.assert_close(torch.log_softmax(free, -1), torch.stack(manual, 1))
    model.train()(src, lengths, tgt, teacher_forcing=0.0).sum().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


def test_tied_embeddings_share_the_matrix():
    model = model_of("luong", "general", False, "gru", tie_embeddings=True)
    assert model.generator.weight is model.tgt_embedding.weight
    assert model.out_size == 6


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"attention": "local"}, "attention"),
        ({"cell": "rnn"}, "cell"),
        ({"hidden_size": 7}, "even"),
        ({"dropout": 1.0}, "dropout"),
    ],
)
def test_config_errors(bad, message):
    with pytest.raises(ValueError, match=message):
        Seq2SeqConfig(**bad)
