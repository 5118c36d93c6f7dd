"""The fixed tuning/report split of the word-similarity and analogy sets, and the CPU clock
that benchmarks/scripts/embeddings_vs_gensim.py budgets by."""

import hashlib
import random
import time

import pytest

from rnnkit.metrics import similarity as wordsim
from rnnkit.recipes.embeddings.objective import WordRate


def synthetic_pairs(n=101):
    return [(f"w{i}", f"v{i % 37}", float(i % 11)) for i in range(n)]


def test_halves_are_disjoint_cover_the_set_and_are_even():
    pairs = synthetic_pairs()
    split = wordsim.halves(pairs)
    assert tuple(split) == wordsim.HALVES
    tune, report = ({wordsim.pair_key(p) for p in split[h]} for h in wordsim.HALVES)
    assert not tune & report
    assert sorted(split["tune"] + split["report"]) == sorted(pairs)
    assert (len(split["tune"]), len(split["report"])) == (51, 50)
    assert split["tune"] == [p for p in pairs if wordsim.pair_key(p) in tune]  # the file's order


def test_halves_are_deterministic_and_do_not_depend_on_the_order_or_the_other_items():
    pairs = synthetic_pairs()
    first, again = wordsim.halves(pairs), wordsim.halves(list(pairs))
    assert first == again
    shuffled = list(pairs)
    random.Random(0).shuffle(shuffled)
    assert sorted(wordsim.halves(shuffled)["tune"]) == sorted(first["tune"])
    other_seed = wordsim.halves(pairs, seed=wordsim.SPLIT_SEED + 1)
    assert sorted(other_seed["tune"]) != sorted(first["tune"])


def test_a_pair_listed_twice_or_reversed_falls_in_one_half():
    pairs = synthetic_pairs(40)
    twice = pairs + [(b.upper(), a, s + 1) for a, b, s in pairs[:10]]
    split = wordsim.halves(twice)
    for a, b, _ in pairs[:10]:
        where = {h for h in wordsim.HALVES for p in split[h] if wordsim.pair_key(p) == wordsim.pair_key((a, b))}
        assert len(where) == 1


def _digest(keys):
    return hashlib.sha256("\n".join(sorted(set(keys))).encode()).hexdigest()[:16]


@pytest.mark.parametrize(
    "name, sizes, digest",
    [
        ("wordsim353", (177, 176), "ea94cc756fd3f306"),
        ("simlex999", (499, 500), "16b451c54c89f2b4"),
    ],
)
def test_the_standard_pair_sets_split_as_published(name, sizes, digest):
    """The halves behind benchmarks/results/embeddings/embeddings_vs_gensim.json: a change here changes its figures."""
    pytest.importorskip("gensim")
    pairs = wordsim.read_pairs(wordsim.gensim_datapath(wordsim.STANDARD_PAIRS[name]))
    split = wordsim.halves(pairs)
    assert (len(split["tune"]), len(split["report"])) == sizes
    assert _digest(wordsim.pair_key(p) for p in split["tune"]) == digest
    assert not {wordsim.pair_key(p) for p in split["tune"]} & {wordsim.pair_key(p) for p in split["report"]}


def test_the_google_analogies_split_by_question():
    pytest.importorskip("gensim")
    questions = wordsim.read_analogies(wordsim.gensim_datapath(wordsim.STANDARD_ANALOGIES["google"]))
    split = wordsim.halves(questions, wordsim.question_key)
    assert (len(split["tune"]), len(split["report"])) == (9769, 9775)
    assert len(split["tune"]) + len(split["report"]) == len(questions)
    assert _digest(wordsim.question_key(q) for q in split["tune"]) == "3687217397e69c32"


class _Trainer:
    def note(self, text):
        self.text = text


def test_word_rate_counts_cpu_seconds_and_carries_them_over_a_resume():
    rate, trainer = WordRate(), _Trainer()
    rate.on_batch(trainer, None)
    end = time.process_time() + 0.05
    while time.process_time() < end:  # burn a little CPU inside the "step"
        pass
    rate.on_step_end(trainer, 1.0, 100)
    _, meta = rate.state_dict()
    assert meta["words"] == 100 and meta["cpu_seconds"] >= 0.05 and meta["seconds"] >= meta["cpu_seconds"] * 0.5
    rate.on_evaluate(trainer, {"loss": 1.0}, True)
    assert "CPU s" in trainer.text
    resumed = WordRate()
    resumed.load_state_dict({}, meta)
    resumed.on_batch(trainer, None)
    resumed.on_step_end(trainer, 1.0, 50)
    _, after = resumed.state_dict()
    assert after["words"] == 150 and after["cpu_seconds"] >= meta["cpu_seconds"]
