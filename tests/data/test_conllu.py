"""CoNLL-U: reading (words, tags, line numbers), exact writing, errors, unseen tags, plain text."""

import os
from pathlib import Path

import conllu
import pytest

from rnnkit.data.conllu import Sentence, read_conllu, sentences_from_text, tokenize
from rnnkit.data.conllu_tags import UnknownTag, format_conllu, tag_set, unknown_tags, write_conllu

FIXTURE = Path(__file__).parents[1] / "fixtures" / "tricky.conllu"
SHARED = [Path(__file__).resolve().parents[3] / "shared" / "data", Path("/work/shared/data")]
EWT_DEV = next(
    (
        base / "ud-english-ewt" / "en_ewt-ud-dev.conllu"
        for base in SHARED
        if (base / "ud-english-ewt" / "en_ewt-ud-dev.conllu").is_file()
    ),
    None,
)


def fixture_lines() -> list[str]:
    return FIXTURE.read_text(encoding="utf-8").split("\n")


def test_reader_gives_words_tags_comments_and_lines():
    first, second, third = read_conllu(FIXTURE)
    assert first.words == ["So", "we", "do", "n't", "know", "."]
    assert first.upos == ["ADV", "PRON", "AUX", "PART", "VERB", "PUNCT"]
    assert first.xpos == ["RB", "PRP", "VBP", "RB", "VB", "."]
    assert first.feats[1] == "Case=Nom|Number=Plur|Person=1|PronType=Prs" and first.feats[0] == "_"
    assert first.comments == {
        "newdoc id": "tricky-doc1",
        "newpar": None,
        "sent_id": "tricky-1",
        "text": "So we don't know.",
    }
    assert (first.line, second.line, third.line) == (1, 13, 27)
    assert first.word_lines == [5, 6, 8, 9, 10, 11]  # 7 is the multiword token 3-4
    assert second.words[7:] == ["brother", "coffee", "."] and 23 not in second.word_lines  # 8.1
    assert second.word_lines[-3:] == [22, 24, 25]
    assert third.comments == {
        "newdoc id": "tricky-doc2",
        "sent_id": "tricky-3",
        "text": "Call me at 5.",
    }  # "# checked by hand" has no value
    assert third.rows[3] == "# checked by hand" and third.ending == "\n"
    assert [s.where(0) for s in (first, third)] == [f"{FIXTURE}:5", f"{FIXTURE}:31"]


def test_reader_agrees_with_the_conllu_package():
    ours = read_conllu(FIXTURE)
    theirs = conllu.parse(FIXTURE.read_text(encoding="utf-8"))
    assert len(ours) == len(theirs)
    for sentence, tokens in zip(ours, theirs):
        words = [t for t in tokens if isinstance(t["id"], int)]
        assert sentence.words == [t["form"] for t in words]
        assert sentence.upos == [t["upos"] for t in words]
        assert sentence.comments == dict(tokens.metadata)


@pytest.mark.parametrize("ending", ["as is", "blank line", "no final newline", "extra blanks"])
def test_round_trip_is_byte_exact(tmp_path, ending):
    text = FIXTURE.read_text(encoding="utf-8")
    text = {
        "as is": text,
        "blank line": text + "\n",
        "no final newline": text.rstrip("\n"),
        "extra blanks": text.replace("\n\n", "\n\n \n\n") + "\n\n",
    }[ending]
    source, copy = tmp_path / "in.conllu", tmp_path / "out.conllu"
    source.write_bytes(text.encode("utf-8"))
    sentences = read_conllu(source)
    write_conllu(copy, sentences)
    assert copy.read_bytes() == source.read_bytes()
    assert format_conllu(sentences) == text


def test_new_tags_replace_only_their_columns(tmp_path):
    sentences = read_conllu(FIXTURE)
    upos = [[f"U{i}" for i in range(len(s.words))] for s in sentences]
    xpos = [["X"] * len(s.words) for s in sentences]
    out = tmp_path / "tagged.conllu"
    write_conllu(out, sentences, upos=upos, xpos=xpos)
    old, new = fixture_lines(), out.read_text(encoding="utf-8").split("\n")
    assert len(old) == len(new)
    word_lines = {line for s in sentences for line in s.word_lines}
    for number, (before, after) in enumerate(zip(old, new), 1):
        if number not in word_lines:
            assert after == before, number  # comments, 3-4, 8.1, blank lines
            continue
        a, b = before.split("\t"), after.split("\t")
        assert a[:3] + a[5:] == b[:3] + b[5:] and b[4] == "X" and b[3].startswith("U"), number
    again = read_conllu(out)
    assert [s.upos for s in again] == upos
    assert [s.feats for s in again] == [s.feats for s in sentences]
    assert sentences[0].upos[0] == "ADV"  # the sentences read are not changed


def test_tags_assigned_to_a_sentence_are_written():
    sentences = read_conllu(FIXTURE)
    sentences[2].upos = ["X"] * 5
    sentences[2].feats = sentences[2].feats[:4] + ["Foo=Bar"]
    lines = format_conllu(sentences).split("\n")
    assert lines[:30] == fixture_lines()[:30]
    assert [line.split("\t")[3] for line in lines[30:35]] == ["X"] * 5
    assert lines[34] == "5\t.\t.\tX\t.\tFoo=Bar\t1\tpunct\t1:punct\t_"
    sentences[2].xpos = ["VB"]
    with pytest.raises(ValueError, match=rf"{FIXTURE}:27: 1 XPOS tags for a sentence of 5 words"):
        format_conllu(sentences)


def test_windows_line_endings_and_bom(tmp_path):
    path = tmp_path / "windows.conllu"
    path.write_bytes(b"\xef\xbb\xbf" + FIXTURE.read_bytes().replace(b"\n", b"\r\n"))
    plain, windows = read_conllu(FIXTURE), read_conllu(path)
    assert [s.words for s in windows] == [s.words for s in plain]
    assert [s.word_lines for s in windows] == [s.word_lines for s in plain]
    assert windows[0].comments == plain[0].comments
    assert format_conllu(windows) == FIXTURE.read_text(encoding="utf-8")  # written with \n


def edit_line(number: int, new: str):
    def edit(lines):
        lines[number - 1] = new
        return lines

    return edit


MALFORMED = {
    "wrong column count": (
        lambda lines: edit_line(17, lines[16].replace("\t", " ", 1))(lines),
        17,
        "expected 10 tab-separated columns, found 9",
    ),
    "non-integer ID": (lambda lines: edit_line(33, "x" + lines[32])(lines), 33, "ID 'x3'"),
    "decimal ID that is no empty node": (lambda lines: edit_line(33, "3." + lines[32][1:])(lines), 33, "ID '3.'"),
    "sentence without words": (
        lambda lines: lines[:12] + ["# sent_id = lonely", ""] + lines[12:],
        13,
        "sentence has no words",
    ),
    "only a multiword token": (lambda lines: lines[:12] + [lines[6], ""] + lines[12:], 13, "sentence has no words"),
    "missing blank line": (lambda lines: lines[:11] + lines[12:], 14, "word ID 1 where 7"),
    "empty file": (lambda lines: [], 1, "the file is empty"),
    "blank lines only": (lambda lines: ["", " ", ""], 1, "only blank lines"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_input_names_file_and_line(tmp_path, case):
    edit, line, message = MALFORMED[case]
    path = tmp_path / "bad.conllu"
    path.write_text("\n".join(edit(fixture_lines())), encoding="utf-8")
    with pytest.raises(ValueError) as error:
        read_conllu(path)
    assert str(error.value).startswith(f"{path}:{line}: ") and message in str(error.value)


def test_not_utf8_and_missing_file(tmp_path):
    path = tmp_path / "latin1.conllu"
    path.write_bytes(FIXTURE.read_bytes().replace("don't".encode(), "dôn't".encode("latin-1")))
    with pytest.raises(ValueError, match=r"latin1.conllu:4: not valid UTF-8"):
        read_conllu(path)
    with pytest.raises(ValueError, match="no such file"):
        read_conllu(tmp_path / "missing.conllu")


def test_bad_predictions_are_refused_before_writing(tmp_path):
    sentences, out = read_conllu(FIXTURE), tmp_path / "out.conllu"
    short = [s.upos[:-1] for s in sentences]
    with pytest.raises(ValueError, match=rf"{FIXTURE}:1: 5 UPOS tags for a sentence of 6 words"):
        write_conllu(out, sentences, upos=short)
    with pytest.raises(ValueError, match="2 XPOS tag lists for 3 sentences"):
        write_conllu(out, sentences, xpos=[s.xpos for s in sentences[:2]])
    spaced = [s.upos for s in sentences]
    spaced[2] = ["VERB", "PRON", "A\tB", "NUM", "PUNCT"]
    with pytest.raises(ValueError, match=rf"{FIXTURE}:33: UPOS tag 'A\\tB'"):
        write_conllu(out, sentences, upos=spaced)
    assert not out.exists()
    with pytest.raises(ValueError, match="does not exist"):
        write_conllu(tmp_path / "no" / "such" / "out.conllu", sentences)


def test_unknown_tags_keep_the_line_of_each_word():
    sentences = read_conllu(FIXTURE)
    known = tag_set(sentences) - {"PART", "NUM"}
    unseen = unknown_tags(sentences, known)
    assert unseen == [UnknownTag(str(FIXTURE), 9, "upos", "PART"), UnknownTag(str(FIXTURE), 34, "upos", "NUM")]
    assert unseen[0].message() == f"{FIXTURE}:9: UPOS tag 'PART' not seen in training"
    assert unknown_tags(sentences, tag_set(sentences, "xpos"), "xpos") == []
    assert "PRP$" in tag_set(sentences, "xpos")
    with pytest.raises(ValueError, match="unknown tag column 'lemma'"):
        unknown_tags(sentences, known, "lemma")


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("Hello, world.", "Hello , world ."),
        ("I don't know, can't you? He's here.", "I do n't know , ca n't you ? He 's here ."),
        (
            "We'll see; they're sure I'm right, you'd say, we've won.",
            "We 'll see ; they 're sure I 'm right , you 'd say , we 've won .",
        ),
        ("It’s John’s and it isn’t.", "It ’s John ’s and it is n’t ."),
        ("Shouldn't've cannot", "Should n't 've can not"),
        ("The dogs' bones", "The dogs ' bones"),
        (
            "In the U.S., e.g. at 3.5 a.m. (by e-mail) at 10:30...",
            "In the U.S. , e.g. at 3.5 a.m. ( by e-mail ) at 10:30 ...",
        ),
        ("Mr. Smith arrived!!! Really?!", "Mr. Smith arrived !!! Really ? !"),
        ('"Quoted," she said [twice].', '" Quoted , " she said [ twice ] .'),
        (
            "See http://example.com/a?b=c. Or www.example.org, or mail me@x.co.uk).",
            "See http://example.com/a?b=c . Or www.example.org , or mail me@x.co.uk ) .",
        ),
        ("'s alone stays and/or rock'n'roll", "'s alone stays and/or rock'n'roll"),
        ("  spaces\tand tabs  ", "spaces and tabs"),
        ("", ""),
    ],
)
def test_tokenize_rule(text, tokens):
    assert tokenize(text) == tokens.split()


def test_sentences_from_text_parse_back(tmp_path):
    text = "Hello, world.\n\n   \r\nI don't\tknow.  \r\n"
    sentences = sentences_from_text(text)
    assert [s.line for s in sentences] == [1, 4]
    assert sentences[1].upos == ["_"] * 5 and sentences[1].word_lines == [4] * 5
    parsed = conllu.parse(format_conllu(sentences))
    assert [[t["form"] for t in p] for p in parsed] == [["Hello", ",", "world", "."], ["I", "do", "n't", "know", "."]]
    assert [p.metadata for p in parsed] == [
        {"sent_id": "1", "text": "Hello, world."},
        {"sent_id": "2", "text": "I don't\tknow."},
    ]
    glued = {"SpaceAfter": "No"}
    assert [t["misc"] for t in parsed[0]] == [glued, None, glued, None]
    out = tmp_path / "tagged.conllu"
    write_conllu(out, sentences, upos=[["INTJ", "PUNCT", "NOUN", "PUNCT"], ["PRON"] * 5])
    assert [s.upos[0] for s in read_conllu(out)] == ["INTJ", "PRON"]
    assert sentences_from_text("") == [] and sentences_from_text("\n \n\t\n") == []
    assert format_conllu([]) == ""
    made = Sentence.from_words(["Hi", "!"], {"newpar": None, "sent_id": "a"})
    assert made.rows[:2] == ["# newpar", "# sent_id = a"] and made.word_rows == [2, 3]
    with pytest.raises(ValueError, match=r"<sentences>:7: 'a\\tb': expected a non-empty string"):
        Sentence.from_words(["a\tb"], line=7)
    with pytest.raises(ValueError, match="''"):
        Sentence.from_words(["ok", ""])
    with pytest.raises(
        ValueError,
        match=r"<text>:2: 'a\\rb': expected a non-empty string without "
        "newlines",
    ):
        sentences_from_text("fine\na\rb")


def test_atomic_write_keeps_the_old_file_when_the_rename_fails(tmp_path, monkeypatch):
    out = tmp_path / "out.conllu"
    out.write_text("old contents\n", encoding="utf-8")
    sentences = read_conllu(FIXTURE)

    def failing_replace(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(ValueError, match=rf"{out}: cannot write: No space left on device"):
        write_conllu(out, sentences)
    assert out.read_text(encoding="utf-8") == "old contents\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.conllu"]  # no temporary file left
    monkeypatch.undo()
    write_conllu(out, sentences)
    assert out.read_bytes() == FIXTURE.read_bytes()


@pytest.mark.skipif(
    EWT_DEV is None,
    reason="UD English EWT not found: no ud-english-ewt/en_ewt-ud-dev.conllu under ../shared/data or /work/shared/data",
)
def test_ewt_dev_counts_and_exact_round_trip():
    sentences = read_conllu(EWT_DEV)
    assert len(sentences) == 2001 and sum(len(s.words) for s in sentences) == 25147
    others = [row.split("\t", 1)[0] for s in sentences for row in s.rows if not row.startswith("#")]
    assert sum("-" in i for i in others) == 359 and sum("." in i for i in others) == 4
    assert all(s.comments.get("sent_id") and s.comments.get("text") for s in sentences)
    assert format_conllu(sentences) == EWT_DEV.read_text(encoding="utf-8")
    assert unknown_tags(sentences, tag_set(sentences)) == []
