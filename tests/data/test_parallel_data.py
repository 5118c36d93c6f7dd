"""Parallel corpora, the exact regex tokenizer, sentencepiece and the translation vocabulary."""

import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.subword import RegexTokenizer, SentencePieceTokenizer, tokenizer_from_json
from rnnkit.data.token_vocab import Vocab
from rnnkit.families.seq2seq.parallel import (
    Pair,
    normalize_space,
    parallel_folder_files,
    read_pairs_tsv,
    read_parallel,
    tutorial_filter,
    tutorial_normalize,
)
from rnnkit.families.seq2seq.splits import sentence_groups, split_groups, split_indices, unique_pairs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "translate"
DATA = Path(os.environ.get("RNNKIT_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data")
MULTI30K = DATA / "multi30k"
ENG_FRA = DATA / "eng-fra" / "eng-fra.txt"
TOK = RegexTokenizer()


def needs(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} not present (set $RNNKIT_DATA to the folder holding multi30k/ and eng-fra/)")


# --- readers ---------------------------------------------------------------------------------


def test_read_parallel_fixture():
    pairs = read_parallel(FIXTURES / "train.de", FIXTURES / "train.en")
    assert len(pairs) == 200 and pairs[0].line == 1 and pairs[-1].line == 200
    assert all(p.src.endswith(".") and p.tgt.endswith(".") for p in pairs)
    assert all(p.src[0].isupper() and p.tgt[0].isupper() for p in pairs)


def test_read_parallel_keeps_lines_as_they_are(tmp_path):
    (tmp_path / "a.de").write_bytes(" x  y \r\n\nz\u2028w\n".encode())
    (tmp_path / "a.en").write_bytes(b"1\n2\n3")
    pairs = read_parallel(tmp_path / "a.de", tmp_path / "a.en")
    assert pairs == [Pair(" x  y ", "1", 1), Pair("", "2", 2), Pair("z\u2028w", "3", 3)]


def test_read_parallel_line_counts_differ():
    with pytest.raises(ValueError) as err:
        read_parallel(FIXTURES / "train.de", FIXTURES / "short.en")
    message = str(err.value)
    assert "train.de has 200 lines but" in message and "short.en has 5;" in message
    assert "one sentence per line" in message and "\n" not in message


def test_read_parallel_large_counts_have_commas(tmp_path):
    (tmp_path / "a.de").write_text("x\n" * 1014)
    (tmp_path / "a.en").write_text("x\n" * 1013)
    with pytest.raises(ValueError, match=r"a\.de has 1,014 lines but .*a\.en has 1,013"):
        read_parallel(tmp_path / "a.de", tmp_path / "a.en")


def test_read_parallel_missing_and_bad_utf8(tmp_path):
    with pytest.raises(ValueError, match=r"nope\.de: no such file"):
        read_parallel(tmp_path / "nope.de", FIXTURES / "train.en")
    (tmp_path / "bad.de").write_bytes(b"ok\n\xff\n")
    with pytest.raises(ValueError, match=r"bad\.de: not valid UTF-8 at byte offset 3"):
        read_parallel(tmp_path / "bad.de", FIXTURES / "short.en")


def test_read_pairs_tsv_and_columns():
    pairs, skipped = read_pairs_tsv(FIXTURES / "pairs.tsv")
    assert len(pairs) == 60 and skipped == 0
    swapped, _ = read_pairs_tsv(FIXTURES / "pairs.tsv", columns=(1, 0))
    assert [(p.tgt, p.src, p.line) for p in swapped] == [(p.src, p.tgt, p.line) for p in pairs]
    with pytest.raises(ValueError, match="columns"):
        read_pairs_tsv(FIXTURES / "pairs.tsv", columns=(0, 2))


def test_read_pairs_tsv_bad_lines():
    path = FIXTURES / "bad_pairs.tsv"
    with pytest.raises(
        ValueError,
        match=r"bad_pairs\.tsv:3: expected 2 tab-separated fields, found 1 "
        r"\(use --skip-bad-lines",
    ):
        read_pairs_tsv(path)
    pairs, skipped = read_pairs_tsv(path, skip_bad_lines=True)
    assert skipped == 2 and [p.line for p in pairs] == [1, 2, 4, 6]
    assert pairs[2] == Pair("We are rich.", "Nous sommes riches.", 4)


def test_read_pairs_tsv_extra_field_and_blank_end(tmp_path):
    path = tmp_path / "x.tsv"
    path.write_text("a\tb\nc\td\te\n")
    with pytest.raises(ValueError, match=r"x\.tsv:2: expected 2 tab-separated fields, found 3"):
        read_pairs_tsv(path)
    path.write_text("a\tb\r\nc\td\n\n")
    assert read_pairs_tsv(path) == ([Pair("a", "b", 1), Pair("c", "d", 2)], 0)


def test_parallel_folder_files(tmp_path):
    files = parallel_folder_files(FIXTURES, "de", "en")
    assert files == {
        "train": (FIXTURES / "train.de", FIXTURES / "train.en"),
        "valid": (FIXTURES / "val.de", FIXTURES / "val.en"),
        "test": (FIXTURES / "test.de", FIXTURES / "test.en"),
    }
    for name in ("train.de", "train.en", "dev.de", "dev.en", "test_2016_flickr.de", "test_2016_flickr.en"):
        (tmp_path / name).write_text("x\n")
    files = parallel_folder_files(tmp_path, "de", "en")
    assert (files["valid"][0].name, files["test"][1].name) == ("dev.de", "test_2016_flickr.en")
    (tmp_path / "test2016.de").write_text("x\n")  # an orphan is passed over when a later pair is complete
    assert parallel_folder_files(tmp_path, "de", "en")["test"] == files["test"]
    for name in ("test_2016_flickr.de", "test_2016_flickr.en"):
        (tmp_path / name).unlink()
    with pytest.raises(ValueError, match=r"found test2016\.de but no test2016\.en"):
        parallel_folder_files(tmp_path, "de", "en")
    (tmp_path / "test2016.de").unlink()
    with pytest.raises(ValueError, match=r": no test\.de, test2016\.de or test_2016_flickr\.de"):
        parallel_folder_files(tmp_path, "de", "en")
    with pytest.raises(ValueError, match=r": found train\.en but no train\.fr$"):
        parallel_folder_files(tmp_path, "fr", "en")
    for name in ("dev.de", "dev.en"):
        (tmp_path / name).unlink()
    with pytest.raises(ValueError, match=r"/[^/]+: no valid\.de, val\.de or dev\.de \(with its \.en twin\)$"):
        parallel_folder_files(tmp_path, "de", "en")
    with pytest.raises(ValueError, match="no such folder"):
        parallel_folder_files(tmp_path / "absent", "de", "en")


def test_multi30k_folder():
    needs(MULTI30K)
    files = parallel_folder_files(MULTI30K, "de", "en")
    assert [files[s][0].name for s in ("train", "valid", "test")] == ["train.de", "val.de", "test2016.de"]
    assert len(read_parallel(*files["valid"])) == 1014


# --- normalisation, the tutorial's filter, splits ----------------------------------------------


def test_normalize_space():
    assert normalize_space("  Ein\t Mann\u00a0 fährt \n") == "Ein Mann fährt"
    assert normalize_space("") == ""


def test_tutorial_normalize():
    assert tutorial_normalize("Va !") == "va !"
    assert tutorial_normalize("J'ai froid.") == "j ai froid ."
    assert tutorial_normalize("Ça va?") == "ca va ?"
    assert tutorial_normalize("  Qu'est-ce que c'est\u202f?! ") == "qu est ce que c est ? !"
    assert tutorial_normalize("Ça va?", lowercase=False) == "Ca va ?"
    assert tutorial_normalize("Ça va?", ascii=False) == "a va ?"
    assert tutorial_normalize("Ça va?", split_punctuation=False) == "ca va?"
    assert tutorial_normalize("J'ai  froid.", letters_only=False) == "j'ai froid ."


def test_tutorial_filter_fixture():
    pairs, _ = read_pairs_tsv(FIXTURES / "pairs.tsv", columns=(1, 0))
    normal = [Pair(tutorial_normalize(p.src), tutorial_normalize(p.tgt), p.line) for p in pairs]
    kept = tutorial_filter(normal)
    assert len(kept) == 50 and not any(p.tgt.startswith("this is") for p in kept)
    assert tutorial_filter(normal, english_prefixes=()) == normal
    assert len(tutorial_filter(normal, max_length=5, english_prefixes=())) == 60  # "i am calm ." has 4 words
    assert tutorial_filter(normal, max_length=4, english_prefixes=()) == []
    assert tutorial_filter(normal, max_length=0, english_prefixes=()) == normal
    english_first = [Pair(p.tgt, p.src, p.line) for p in normal]
    assert tutorial_filter(english_first, english_side="src") == [Pair(p.tgt, p.src, p.line) for p in kept]
    with pytest.raises(ValueError, match="english_side"):
        tutorial_filter(normal, english_side="en")


def test_tutorial_filter_eng_fra_count():
    needs(ENG_FRA)
    pairs, skipped = read_pairs_tsv(ENG_FRA, columns=(1, 0))
    assert len(pairs) == 135842 and skipped == 0
    normal = [Pair(tutorial_normalize(p.src), tutorial_normalize(p.tgt), p.line) for p in pairs]
    kept = tutorial_filter(normal)
    assert len(kept) == 10599  # the tutorial's "Trimmed to 10599 sentence pairs"
    assert all(p.tgt.startswith(("i ", "he ", "she ", "you ", "we ", "they ")) for p in kept)


def test_split_indices():
    a = split_indices(103, seed=1)
    assert a == split_indices(103, seed=1) and a != split_indices(103, seed=2)
    assert [len(a[s]) for s in ("train", "valid", "test")] == [83, 10, 10]
    assert sorted(a["train"] + a["valid"] + a["test"]) == list(range(103))
    assert all(a[s] == sorted(a[s]) for s in a)
    small = split_indices(3, seed=0)
    assert [len(small[s]) for s in ("train", "valid", "test")] == [1, 1, 1]
    assert split_indices(10, seed=0, valid_fraction=0.0, test_fraction=0.0)["train"] == list(range(10))
    with pytest.raises(ValueError, match="valid_fraction"):
        split_indices(10, seed=0, valid_fraction=1.0)
    with pytest.raises(ValueError, match="leave no training examples"):
        split_indices(4, seed=0, valid_fraction=0.5, test_fraction=0.5 - 1e-9)


def _leaks(pairs, split):
    """Sentences of valid or test that occur on the same side in another split."""
    sides = {name: ({pairs[i].src for i in split[name]}, {pairs[i].tgt for i in split[name]}) for name in split}
    return [
        (a, b, side)
        for a in ("valid", "test")
        for b in split
        if b != a
        for side in (0, 1)
        if sides[a][side] & sides[b][side]
    ]


def test_split_groups_keeps_repeated_sentences_in_one_split():
    # the eng-fra pattern: one English sentence, several French ones, and chains across them
    pairs = (
        [Pair(f"fr{i}", f"en{i // 6}", i + 1) for i in range(120)]
        + [Pair("fr0", "en1", 121)]
        + [Pair(f"solo fr{i}", f"solo en{i}", 200 + i) for i in range(80)]
    )
    assert unique_pairs(pairs + pairs[:5]) == pairs
    groups = sentence_groups(pairs)
    assert len(groups) == 19 + 80 and sorted(i for g in groups for i in g) == list(range(201))
    assert [6, 7, 8, 9, 10, 11, 12] not in groups and [*range(12), 120] in groups  # fr0 links en0 and en1
    split = split_groups(pairs, seed=3)
    assert split == split_groups(pairs, seed=3) and split != split_groups(pairs, seed=4)
    assert sorted(split["train"] + split["valid"] + split["test"]) == list(range(201))
    assert all(len(split[n]) >= 20 for n in ("valid", "test")) and len(split["train"]) >= 140
    assert _leaks(pairs, split) == []
    assert _leaks(pairs, split_indices(201, seed=3)) != []  # what a split by pairs would leak
    with pytest.raises(ValueError, match="10 pairs form 1 groups of shared sentences; none is left for the valid"):
        split_groups([Pair("a", f"b{i}", i) for i in range(10)], seed=0)
    big = [Pair("one", f"en{i}", i) for i in range(50)] + [Pair(f"fr{i}", f"solo{i}", 50 + i) for i in range(150)]
    for seed in range(5):  # the 50-pair group never lands in valid (20 wanted) or test
        parts = split_groups(big, seed=seed)
        assert all(i in parts["train"] for i in range(50)) and all(20 <= len(parts[n]) <= 22 for n in ("valid", "test"))


def test_a_run_saved_before_the_grouped_split_keeps_its_own_split(tmp_path):
    from types import SimpleNamespace

    from rnnkit.families.seq2seq.bitext import load_bitext

    rows = [f"en{i % 40}\tfr{i % 40}" for i in range(60)]  # 20 exact repeats
    (tmp_path / "p.tsv").write_text("\n".join(rows) + "\n")
    config = SimpleNamespace(
        dataset=str(tmp_path / "p.tsv"),
        data_dir="",
        src="fr",
        tgt="en",
        columns="en,fr",
        lowercase=False,
        ascii_fold=False,
        tutorial_punctuation=False,
        max_length=0,
        english_prefixes=False,
        skip_bad_lines=False,
        valid_fraction=0.1,
        test_fraction=0.1,
    )
    new = load_bitext(config, seed=0)
    assert sum(map(len, new.splits.values())) == 40 and new.split_lines["rule"] == "sentence groups"
    assert load_bitext(config, seed=5, split_lines=new.split_lines).splits == new.splits  # reloads as saved
    legacy = {"valid": [1, 2, 41], "test": [3, 43, 44]}  # line numbers, repeats included
    old = load_bitext(config, seed=0, split_lines=legacy).splits
    assert [p.line for p in old["valid"]] == [1, 2, 41] and [p.line for p in old["test"]] == [3, 43, 44]
    assert len(old["train"]) == 54  # nothing dropped: the run is scored as it was


def test_eng_fra_split_has_no_test_sentence_in_training():
    needs(ENG_FRA)
    from types import SimpleNamespace

    from rnnkit.families.seq2seq.bitext import load_bitext
    from rnnkit.recipes.translate.config import PRESETS

    config = SimpleNamespace(
        **PRESETS["eng-fra"]["data"],
        data_dir=str(ENG_FRA.parent.parent),
        skip_bad_lines=False,
        valid_fraction=0.1,
        test_fraction=0.1,
    )
    splits = load_bitext(config, seed=1).splits
    train_src, train_tgt = {p.src for p in splits["train"]}, {p.tgt for p in splits["train"]}
    assert [len(splits[n]) for n in ("train", "valid", "test")] == [8472, 1061, 1060]  # 10,593 distinct pairs
    assert not any(p.src in train_src or p.tgt in train_tgt for n in ("valid", "test") for p in splits[n])


# --- the regex tokenizer -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("Ein Mann fährt Fahrrad.", ["Ein", "Mann", "fährt", "Fahrrad", "￭."]),
        ("T-Shirt", ["T", "￭-", "￭Shirt"]),
        ("„Hallo!“, sagt er.", ["„", "￭Hallo", "￭!", "￭“", "￭,", "sagt", "er", "￭."]),
        ("3.5 km_h", ["3", "￭.", "￭5", "km", "￭_", "￭h"]),
        (" a  b\tc\u00a0d ", ["␣a", "␣␣b", "␉c", "⟨U+00A0⟩d", "␣"]),
        ("a ￭ ␣ ⟨ ␛", ["a", "␛￭", "␛␣", "␛⟨", "␛␛"]),
        ("   ", ["␣␣␣"]),
        ("", []),
    ],
)
def test_regex_tokens(text, tokens):
    assert TOK.tokenize(text) == tokens
    assert TOK.detokenize(tokens) == text


def test_regex_detokenize_is_lenient():
    assert TOK.detokenize([]) == ""
    assert TOK.detokenize(["￭.", "a", "<unk>", "￭,", "⟨U+zz"]) == ". a <unk>, ⟨U+zz"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_regex_round_trip_hypothesis(text):
    assert TOK.detokenize(TOK.tokenize(text)) == text


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["a", "Bé", "7", ".", "-", "￭", "␣", "⟨", "␛", "_", " ", "  ", "\t", "\u00a0", "\r\n", "\u3000", "⟨U+0020⟩"]
        )
    )
)
def test_regex_round_trip_marks_and_spaces(parts):
    text = "".join(parts)
    assert TOK.detokenize(TOK.tokenize(text)) == text


def test_regex_round_trip_fixture_and_normalized_tokens_have_no_marks():
    for path in sorted(FIXTURES.glob("*.??")) + [FIXTURES / "pairs.tsv"]:
        for line in path.read_text(encoding="utf-8").split("\n"):
            tokens = TOK.tokenize(line)
            assert TOK.detokenize(tokens) == line
            assert not any(c in t for t in TOK.tokenize(normalize_space(line)) for c in "␣␉⟨␛")


def test_regex_round_trip_multi30k():
    needs(MULTI30K)
    odd = 0
    for name in ("train", "val", "test2016"):
        for lang in ("de", "en"):
            text = (MULTI30K / f"{name}.{lang}").read_text(encoding="utf-8")
            lines = text.split("\n")
            assert len(lines) == {"train": 29000, "val": 1014, "test2016": 1000}[name] + 1
            for line in lines:
                tokens = TOK.tokenize(line)
                assert TOK.detokenize(tokens) == line, (name, lang, line)
                odd += line != normalize_space(line)
    assert odd >= 80  # train.de's double, leading and trailing spaces and its tab are among them


def test_regex_round_trip_eng_fra():
    needs(ENG_FRA)
    lines = ENG_FRA.read_text(encoding="utf-8").split("\n")
    assert len(lines) == 135843
    for line in lines:  # whole lines, tab and narrow no-break spaces included
        assert TOK.detokenize(TOK.tokenize(line)) == line, line


def test_regex_json():
    data = json.loads(json.dumps(TOK.to_json()))
    assert data == {"kind": "regex"} and isinstance(tokenizer_from_json(data), RegexTokenizer)
    with pytest.raises(ValueError, match="unknown tokenizer kind 'bpe'"):
        tokenizer_from_json({"kind": "bpe"})


# --- sentencepiece -------------------------------------------------------------------------------


def _trained(model_type="unigram", vocab_size=50):
    pytest.importorskip("sentencepiece", reason="sentencepiece is not installed (pip install 'rnnkit[translate]')")
    sentences = [p.src for p in read_parallel(FIXTURES / "train.de", FIXTURES / "train.en")]
    return SentencePieceTokenizer.train(sentences, vocab_size, model_type=model_type, seed=0)


@pytest.mark.parametrize("model_type", ["unigram", "bpe"])
def test_sentencepiece_round_trip_and_json(model_type, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spm = _trained(model_type)
    assert list(tmp_path.iterdir()) == []  # trained in memory
    assert spm.vocab_size == 50 and spm.model_type == model_type
    lines = [p.src for p in read_parallel(FIXTURES / "test.de", FIXTURES / "test.en")]
    for line in lines:
        assert spm.detokenize(spm.tokenize(line)) == line
    assert sum(len(spm.tokenize(line)) for line in lines) < sum(len(line) for line in lines)  # not just characters
    data = json.loads(json.dumps(spm.to_json()))
    assert data["kind"] == "sentencepiece" and data["vocab_size"] == 50 and data["model_type"] == model_type
    again = tokenizer_from_json(data)
    assert isinstance(again, SentencePieceTokenizer)
    assert [again.tokenize(line) for line in lines] == [spm.tokenize(line) for line in lines]
    assert _trained(model_type).to_json() == spm.to_json()  # deterministic


def test_sentencepiece_vocab_too_large():
    pytest.importorskip("sentencepiece")
    with pytest.raises(ValueError, match="sentencepiece could not train a unigram model of 5000 pieces"):
        _trained(vocab_size=5000)


# --- the vocabulary ------------------------------------------------------------------------------


def test_vocab_specials_order_and_min_freq():
    sequences = [["b", "a", "c"], ["a", "b", "d"], ["a", "<unk>"]]
    vocab = Vocab.build(sequences)
    assert vocab.tokens == ["<pad>", "<sos>", "<eos>", "<unk>", "a", "b", "c", "d"]
    assert (Vocab.PAD, Vocab.SOS, Vocab.EOS, Vocab.UNK) == (0, 1, 2, 3) and len(vocab) == 8
    assert Vocab.build(sequences, min_freq=2).tokens[4:] == ["a", "b"]
    assert Vocab.build(sequences, max_size=3).tokens[4:] == ["a", "b", "c"]
    assert vocab.encode(["a", "zz", "d"]) == [4, 3, 7]
    assert vocab.unknown(["zz", "a", "yy", "zz"]) == ["yy", "zz"]
    assert vocab.decode([1, 4, 5, 2, 0]) == ["<sos>", "a", "b", "<eos>", "<pad>"]
    with pytest.raises(ValueError, match="id 8 is out of range"):
        vocab.decode([8])


def test_vocab_json_round_trip_on_fixture():
    pairs = read_parallel(FIXTURES / "train.de", FIXTURES / "train.en")
    vocab = Vocab.build(TOK.tokenize(p.tgt) for p in pairs)
    assert vocab.tokens[4] == "￭."  # every sentence ends with one
    again = Vocab.from_json(json.loads(json.dumps(vocab.to_json())))
    assert again.tokens == vocab.tokens and again.index == vocab.index
    with pytest.raises(ValueError, match="start with"):
        Vocab.from_json(vocab.to_json()[4:])
