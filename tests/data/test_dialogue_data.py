"""Dialogue data: Tiny Shakespeare conversations, the Cornell Movie-Dialogs reader, pairs and splits."""

import re
from pathlib import Path

import pytest

from rnnkit.data.text import bundled_text
from rnnkit.families.seq2seq.parallel import Pair
from rnnkit.recipes.chat.dialogue import (
    Conversation,
    Turn,
    conversation_pairs,
    read_cornell,
    read_cornell_lines,
    read_pairs,
    split_conversations,
)
from rnnkit.recipes.chat.shakespeare import shakespeare_conversations

CORNELL = Path(__file__).resolve().parents[1] / "fixtures" / "cornell"
LINES, CONVERSATIONS = CORNELL / "movie_lines.txt", CORNELL / "movie_conversations.txt"
SPEAKER = re.compile(r"[A-Za-z][A-Za-z' .,&-]*:")


@pytest.fixture(scope="module")
def shakespeare():
    return shakespeare_conversations()


# --- Tiny Shakespeare ----------------------------------------------------------------------------


def test_shakespeare_counts(shakespeare):
    assert len(shakespeare) == 107
    assert sum(len(c.turns) for c in shakespeare) == 7097
    assert len(conversation_pairs(shakespeare)) == 6990
    assert {c.source for c in shakespeare} == {"tinyshakespeare"}


def test_shakespeare_first_pairs(shakespeare):
    pairs = conversation_pairs(shakespeare)
    assert pairs[0] == Pair("Before we proceed any further, hear me speak.", "Speak, speak.", 2)
    assert pairs[1] == Pair("Speak, speak.", "You are all resolved rather to die than to famish?", 5)
    # a speech of several lines is joined with single spaces
    assert pairs[6].src == "Let us kill him, and we'll have corn at our own price. Is't a verdict?"


def test_shakespeare_no_speaker_names(shakespeare):
    text = bundled_text("tinyshakespeare")
    # the speaker lines: the first line of the corpus and each line after a blank one
    names = {line for before, line in zip([""] + text.split("\n"), text.split("\n")) if not before and line}
    assert len(names) == 309 and all(SPEAKER.fullmatch(name) for name in names)
    pairs = conversation_pairs(shakespeare)
    assert not [p for p in pairs if p.src.startswith(tuple(names)) or p.tgt.startswith(tuple(names))][:3]
    assert all(p.src and p.tgt and "\n" not in p.src + p.tgt for p in pairs)


def test_shakespeare_breaks():
    text = (
        "A:\nOne.\n\nB:\nTwo\n  lines.\n\nA:\n\nC:\nThree.\n\nD:\nFour.\n\n\n"
        "E:\nFive.\n\nSCENE II. A room\nEnter F\n\nF:\nSix.\n\nG:\nSeven.\n"
    )
    conversations = shakespeare_conversations(text, source="toy")
    assert [[t.text for t in c.turns] for c in conversations] == [
        ["One.", "Two lines."],
        ["Three.", "Four."],
        ["Five."],
        ["Six.", "Seven."],
    ]
    assert conversations[0].turns[1] == Turn("Two lines.", 5)
    assert [p.src for p in conversation_pairs(conversations)] == ["One.", "Three.", "Six."]


# --- Cornell Movie-Dialogs -----------------------------------------------------------------------


def test_cornell_fixture():
    conversations, report = read_cornell(LINES, CONVERSATIONS)
    assert report == {"bad_lines": 0, "missing_line_ids": 1, "conversations": 4}
    assert [[t.text for t in c.turns] for c in conversations] == [
        [
            "Are you coming to the café tonight?",
            "Maybe. Who\u2019s playing?",
            "A trio from the naïve school.",
            "Then I'm coming.",
        ],
        ["Did you lock the door?", "I think so."],  # L99 is missing: split there
        ["You think so?"],
        ["Where are the keys?", "In your pocket."],
    ]
    assert conversations[0].turns[0] == Turn("Are you coming to the café tonight?", 1)
    assert conversations[1].source == conversations[2].source == f"{CONVERSATIONS}:2"


def test_cornell_pairs_never_cross_a_gap_or_conversation():
    conversations, _ = read_cornell(LINES, CONVERSATIONS)
    pairs = conversation_pairs(conversations)
    assert len(pairs) == 5
    assert Pair("Did you lock the door?", "I think so.", 5) in pairs
    assert not [p for p in pairs if p.src == "I think so." or p.tgt == "Where are the keys?"]
    assert not [p for p in pairs if p.src == "Then I'm coming."]


def test_cornell_bad_line_raises_naming_file_and_line():
    bad = CORNELL / "bad_movie_lines.txt"
    with pytest.raises(
        ValueError,
        match=re.escape(f"{bad}:3: expected 5 fields separated by ' +++$+++ ', found 4") + ".*--skip-bad-lines",
    ):
        read_cornell(bad, CONVERSATIONS)


def test_cornell_bad_line_skipped_and_counted():
    turns, bad = read_cornell_lines(CORNELL / "bad_movie_lines.txt", skip_bad_lines=True)
    assert bad == 1 and sorted(turns) == ["L10", "L11", "L13"] and turns["L13"].line == 4
    conversations, report = read_cornell(CORNELL / "bad_movie_lines.txt", CONVERSATIONS, skip_bad_lines=True)
    # L12 was on the bad line; L20.., L30.. are not in this lines file
    assert report == {"bad_lines": 1, "missing_line_ids": 1 + 4 + 2, "conversations": 2}
    assert [[t.text for t in c.turns] for c in conversations] == [
        ["Are you coming to the café tonight?", "Maybe. Who\u2019s playing?"],
        ["Then I'm coming."],
    ]


def test_cornell_malformed_id_list():
    bad = CORNELL / "bad_movie_conversations.txt"
    with pytest.raises(ValueError, match=re.escape(f"{bad}:2: expected a list of line ids")):
        read_cornell(LINES, bad)
    conversations, report = read_cornell(LINES, bad, skip_bad_lines=True)
    assert report == {"bad_lines": 1, "missing_line_ids": 0, "conversations": 2}


def test_cornell_wrong_field_count_in_conversations(tmp_path):
    path = tmp_path / "movie_conversations.txt"
    path.write_bytes(b"u0 +++$+++ u1 +++$+++ ['L10', 'L11']\n")
    with pytest.raises(ValueError, match=re.escape(f"{path}:1: expected 4 fields") + ".*found 3"):
        read_cornell(LINES, path)


def test_cornell_missing_and_empty_files(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        read_cornell(tmp_path / "nope.txt", CONVERSATIONS)
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        read_cornell(LINES, tmp_path / "empty.txt")


# --- splits and pair files -----------------------------------------------------------------------


def test_split_keeps_conversations_whole(shakespeare):
    split = split_conversations(shakespeare, seed=3)
    assert split == split_conversations(shakespeare, seed=3)
    assert split != split_conversations(shakespeare, seed=4)
    parts = [set(split[name]) for name in ("train", "valid", "test")]
    assert sum(map(len, parts)) == len(shakespeare) == len(set.union(*parts))
    assert len(parts[1]) == len(parts[2]) == 11
    # every pair of a held-out conversation is absent from train's pairs
    train = set(conversation_pairs([shakespeare[i] for i in split["train"]]))
    held = conversation_pairs([shakespeare[i] for i in split["valid"] + split["test"]])
    assert not [p for p in held if p in train]


def test_split_tiny():
    conversations = [Conversation((Turn(str(i), i), Turn(str(i + 1), i + 1)), "toy") for i in range(5)]
    split = split_conversations(conversations, seed=0, valid_fraction=0.2, test_fraction=0.2)
    assert sorted(split["train"] + split["valid"] + split["test"]) == list(range(5))
    assert len(split["valid"]) == len(split["test"]) == 1


def test_read_pairs(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("hi there\thello\nhow are you?\tfine.\n\n", encoding="utf-8")
    assert read_pairs(path) == [Pair("hi there", "hello", 1), Pair("how are you?", "fine.", 2)]


def test_read_pairs_empty(tmp_path):
    blank = tmp_path / "blank.tsv"
    blank.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"{blank}: no utterance<TAB>reply pairs")):
        read_pairs(blank)
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tab here\n", encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"{bad}: no utterance<TAB>reply pairs") + ".*1 bad line"):
        read_pairs(bad, skip_bad_lines=True)
    with pytest.raises(ValueError, match=re.escape(f"{bad}:1: expected 2 tab-separated fields")):
        read_pairs(bad)
    empty = tmp_path / "empty.tsv"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        read_pairs(empty)
