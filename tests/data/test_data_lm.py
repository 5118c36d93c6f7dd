"""Text reading, the character vocabulary and truncated-BPTT streams."""

import pytest
import torch

from rnnkit.data import BPTTStream, CharVocab, bundled_text, eval_windows, make_streams, read_text


def test_bundled_tiny_shakespeare_is_the_full_corpus():
    text = bundled_text()
    assert len(text) == 1_115_394 and len(set(text)) == 65
    assert text.startswith("First Citizen:")


def test_read_text_errors_name_file_and_byte_offset(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.txt: the file is empty"):
        read_text(empty)
    bad = tmp_path / "latin1.txt"
    bad.write_bytes(b"hello caf\xe9 world")
    with pytest.raises(ValueError, match=r"latin1\.txt: not valid UTF-8 at byte offset 9"):
        read_text(bad)
    with pytest.raises(ValueError, match="no such file"):
        read_text(tmp_path / "missing.txt")


def test_vocab_round_trip_and_unknown_characters():
    vocab = CharVocab.from_text("to be or not")
    assert vocab.decode(vocab.encode("not to be").tolist()) == "not to be"
    with pytest.raises(ValueError, match=r"prime contains 2 character\(s\).*'R', 'x'"):
        vocab.encode("Rox", what="prime")
    assert vocab.decode(vocab.encode("Rox", skip_unknown=True).tolist()) == "o"
    assert CharVocab.from_json(vocab.to_json()).chars == vocab.chars


def test_targets_are_inputs_shifted_by_one_and_streams_are_continuous():
    ids = torch.arange(103)
    stream = BPTTStream(ids, batch_size=4, seq_length=7)
    length = stream.stream_length  # (103 - 1) // 4 = 25
    assert length == 25
    windows = [stream.next_window() for _ in range(4)]  # 7 + 7 + 7 + 4 = 25
    assert [w.inputs.shape for w in windows] == [(4, 7)] * 3 + [(4, 4)]
    assert [w.reset for w in windows] == [True, False, False, False]
    inputs = torch.cat([w.inputs for w in windows], dim=1)
    targets = torch.cat([w.targets for w in windows], dim=1)
    for i in range(4):  # stream i is ids[i*25 : (i+1)*25], read in order across batches
        assert torch.equal(inputs[i], ids[i * 25 : (i + 1) * 25])
        assert torch.equal(targets[i], ids[i * 25 + 1 : (i + 1) * 25 + 1])
    nxt = stream.next_window()  # the next pass starts over, with a reset
    assert nxt.reset and stream.epoch == 1 and torch.equal(nxt.inputs, windows[0].inputs)


def test_variable_bptt_lengths_are_bounded_and_resume_exactly():
    ids = torch.arange(5000)
    stream = BPTTStream(ids, 4, 20, variable=True, seed=3)
    lengths = [stream.next_window().inputs.shape[1] for _ in range(30)]
    assert len(set(lengths)) > 3 and min(lengths) >= 1 and max(lengths) <= 40
    tensors, meta = stream.state_dict()
    after = [stream.next_window().inputs for _ in range(5)]
    again = BPTTStream(ids, 4, 20, variable=True, seed=99)
    again.load_state_dict(tensors, meta)
    assert all(torch.equal(a, again.next_window().inputs) for a in after)


def test_text_shorter_than_one_batch_names_the_minimum():
    with pytest.raises(ValueError, match=r"need at least 641 \(batch_size \* seq_length \+ 1\)"):
        BPTTStream(torch.arange(300), batch_size=64, seq_length=10)


def test_eval_windows_cover_the_text_once_with_fewer_streams_when_short():
    ids = torch.arange(50)
    windows = list(eval_windows(ids, batch_size=64, seq_length=10))
    assert windows[0].inputs.shape[0] == 4  # (50 - 1) // 10 streams
    covered = torch.cat([w.targets for w in windows], dim=1).flatten()
    assert torch.equal(covered.sort().values, torch.arange(1, 49))  # every target once
    inputs, targets = make_streams(ids, 4)
    assert torch.equal(torch.cat([w.inputs for w in windows], 1), inputs)
