"""Names: data and split, classifier (packed = one at a time, predict format), generator, bad input."""

import io
import json
import random
import re

import pytest
import torch
from helpers import write_languages

from rnnkit.cli import main
from rnnkit.data.batches import BatchCycler, pad_batch
from rnnkit.data.names import NamesData, NameVocab, fold_ascii, read_names, split_examples, stratified_split
from rnnkit.metrics.classification import any_label_reference, any_label_scores, classification_report, confusion_matrix
from rnnkit.recipes import load
from rnnkit.recipes.names.model import ClassifierConfig, ClassifierEnsemble, SequenceClassifier, build_classifier, pool
from rnnkit.recipes.names.recipe import format_predictions


def test_bundled_data_counts_match_the_issue():
    data = read_names()
    assert len(data.languages) == 18 and len(data.examples) == 18015
    assert data.duplicates_removed == 20074 - 18015
    assert len(data.multi_label) == 469  # names carrying two or more labels
    russian = data.languages.index("Russian")
    assert round(sum(label == russian for _, label in data.examples) / len(data.examples), 3) == 0.519


def test_split_is_stratified_grouped_and_reproducible():
    data = read_names()
    first, again, other = (stratified_split(data, seed=s) for s in (0, 0, 1))
    assert first == again and first != other
    parts = split_examples(data, first)
    for label, language in enumerate(data.languages):
        counts = [sum(1 for _, l in parts[s] if l == label) for s in ("train", "valid", "test")]
        total = sum(counts)
        for count, fraction in zip(counts, (0.8, 0.1, 0.1)):
            assert abs(count - fraction * total) <= 2 + 0.02 * total, (language, counts)
    where = {}
    for split, examples in parts.items():
        for name, _ in examples:
            where.setdefault(name, set()).add(split)
    assert all(len(splits) == 1 for splits in where.values())  # a name never straddles splits


def test_ascii_folding_as_in_the_tutorial():
    assert fold_ascii("Ślusàrski") == "Slusarski"
    assert fold_ascii("O'Néill") == "O'Neill"


def test_too_few_names_for_a_split_is_an_error(tmp_path):
    (tmp_path / "A.txt").write_text("Abe\nCole\n")
    (tmp_path / "B.txt").write_text("Dee\nEve\n")
    data = read_names(tmp_path)
    with pytest.raises(ValueError, match="valid and test split.* would be empty"):
        split_examples(data, stratified_split(data))


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--balance", "foo"], "balance: expected one of none, weighted, sampler, logit-adjusted, got 'foo'"),
        (["--members", "0"], "--members: expected an integer in [1, 64], got 0"),
        (["--pooling", "min"], "pooling: expected one of last, max, mean, got 'min'"),
        (
            ["--balance", "logit-adjusted", "--balance-power", "-1"],
            "--balance-power: expected a number in [0, 10], got -1.0",
        ),
    ],
)
def test_a_bad_flag_fails_before_the_run_directory_exists(tmp_path, capsys, flags, message):
    assert main(["train", "names", *flags, "--run-dir", str(tmp_path / "run")]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_bad_data_folders_are_named(tmp_path):
    with pytest.raises(ValueError, match="has no .txt files"):
        read_names(tmp_path)
    (tmp_path / "Empty.txt").write_text("")
    with pytest.raises(ValueError, match=r"Empty.txt is empty"):
        read_names(tmp_path)
    (tmp_path / "Empty.txt").write_text("\n")
    with pytest.raises(ValueError, match=r"Empty.txt is empty"):
        read_names(tmp_path)
    (tmp_path / "Empty.txt").write_bytes("Ab\u00e9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"Empty.txt: not UTF-8"):
        read_names(tmp_path)
    (tmp_path / "Empty.txt").write_text("Abe\n\nCole\n")
    with pytest.raises(ValueError, match=r"Empty.txt:2: empty name"):
        read_names(tmp_path)


def test_unseen_characters_become_unknown_with_a_warning():
    vocab = NameVocab.from_names(["abc"])
    with pytest.warns(UserWarning, match=r"'z'.*never seen in training"):
        ids = vocab.encode("azb")
    assert ids.tolist() == [vocab.index["a"], vocab.unk, vocab.index["b"]]


@pytest.mark.parametrize(
    "cell, bidirectional, pooling",
    [
        ("lstm", True, "last"),
        ("gru", False, "last"),
        ("rnn_tanh", True, "last"),
        ("lstm", True, "max"),
        ("gru", True, "mean"),
    ],
)
def test_packed_batches_predict_as_one_name_at_a_time(cell, bidirectional, pooling):
    torch.manual_seed(0)
    config = ClassifierConfig(
        cell=cell,
        embedding_dim=8,
        hidden_size=12,
        num_layers=2,
        bidirectional=bidirectional,
        dropout=0.0,
        pooling=pooling,
    )
    model = SequenceClassifier(20, 5, config).double().eval()
    names = [torch.randint(4, 20, (n,)) for n in (7, 1, 4, 9, 3)]
    ids, lengths = pad_batch(names)
    batched = model(ids, lengths)
    alone = torch.cat([model(n.unsqueeze(0), torch.tensor([len(n)])) for n in names])
    torch.testing.assert_close(batched, alone, rtol=0, atol=1e-12)


def test_ensemble_averages_member_probabilities_and_packs_like_one_name_at_a_time():
    torch.manual_seed(0)
    config = ClassifierConfig(embedding_dim=8, hidden_size=12, dropout=0.0, members=3)
    model = build_classifier(20, 5, config).double().eval()
    assert isinstance(model, ClassifierEnsemble) and len(model.members) == 3
    names = [torch.randint(4, 20, (n,)) for n in (7, 1, 4)]
    ids, lengths = pad_batch(names)
    members = [torch.softmax(m(ids, lengths), -1) for m in model.members]
    assert not torch.allclose(members[0], members[1])  # each member has its own initialisation
    torch.testing.assert_close(model(ids, lengths).exp(), sum(members) / 3, rtol=0, atol=1e-12)
    alone = torch.cat([model(n.unsqueeze(0), torch.tensor([len(n)])) for n in names])
    torch.testing.assert_close(model(ids, lengths), alone, rtol=0, atol=1e-12)
    assert isinstance(build_classifier(20, 5, ClassifierConfig()), SequenceClassifier)
    with pytest.raises(ValueError, match="members: expected >= 1, got 0"):
        ClassifierConfig(members=0)
    with pytest.raises(ValueError, match="pooling: expected one of last, max, mean, got 'min'"):
        ClassifierConfig(pooling="min")


def test_pooling_reads_only_the_real_positions_of_the_top_layer():
    outputs = torch.tensor(
        [[[1.0, -5.0], [3.0, -1.0], [9.0, 9.0]], [[-2.0, -4.0], [-8.0, -8.0], [-8.0, -8.0]]], dtype=torch.float64
    )
    lengths = torch.tensor([2, 1])  # the 9s and the -8s are padding
    torch.testing.assert_close(pool(outputs, lengths, "max"), torch.tensor([[3.0, -1.0], [-2.0, -4.0]]).double())
    torch.testing.assert_close(pool(outputs, lengths, "mean"), torch.tensor([[2.0, -3.0], [-2.0, -4.0]]).double())


def test_batch_cycler_resumes_exactly_and_balances():
    lengths = [random.Random(i).randint(1, 9) for i in range(103)]
    cycler = BatchCycler(lengths, 8, seed=3)
    for _ in range(17):  # past the first epoch (13 batches)
        cycler.next()
    tensors, meta = cycler.state_dict()
    expected = [cycler.next() for _ in range(20)]
    resumed = BatchCycler(lengths, 8, seed=99)
    resumed.load_state_dict(tensors, meta)
    assert [resumed.next() for _ in range(20)] == expected and meta["epoch"] == 1
    labels = torch.tensor([0] * 95 + [1] * 8)
    weights = (1.0 / torch.bincount(labels).double())[labels]
    balanced = BatchCycler(lengths, 8, seed=0, weights=weights)
    drawn = [i for _ in range(130) for i in balanced.next()]
    share = sum(labels[i].item() for i in drawn) / len(drawn)
    assert 0.4 < share < 0.6  # the 8-example class is drawn about half the time


def test_classification_report_on_a_known_matrix():
    predicted, target = torch.tensor([0, 0, 1, 1, 2, 0]), torch.tensor([0, 1, 1, 1, 2, 2])
    confusion = confusion_matrix(predicted, target, 3)
    assert confusion.tolist() == [[1, 0, 0], [1, 2, 0], [1, 0, 1]]
    report = classification_report(confusion, ["a", "b", "c"])
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["per_class"]["a"]["precision"] == pytest.approx(1 / 3)
    assert report["per_class"]["b"]["recall"] == pytest.approx(2 / 3)
    f1 = [2 * (1 / 3) / (4 / 3), 2 * (2 / 3) / (5 / 3), 2 * 0.5 / 1.5]
    assert report["macro_f1"] == pytest.approx(sum(f1) / 3)


def test_names_listed_under_several_languages_are_right_for_any_of_them():
    assert any_label_reference([1, 2, 0], [{0, 1}, {0, 1}, {0}]) == [1, 0, 0]
    with pytest.raises(ValueError, match="2 predictions for 1 label sets"):
        any_label_reference([0, 1], [{0}])
    data = NamesData(["a", "b", "c"], [("X", 0), ("X", 1), ("Y", 1), ("Z", 2), ("W", 2)], 0, {"X": [0, 1]})
    assert data.label_sets() == {"X": {0, 1}, "Y": {1}, "Z": {2}, "W": {2}}
    # pairs X/a and X/b share one prediction (b): right by name, so X counts once, for b
    report = any_label_scores([1, 1, 1, 1, 2], ["X", "X", "Y", "Z", "W"], data.label_sets(), data.languages)
    assert report["examples"] == 4 and report["accuracy"] == pytest.approx(3 / 4)
    assert report["per_class"]["c"]["recall"] == pytest.approx(1 / 2)  # Z was called b
    assert report["per_class"]["a"]["support"] == 0 and report["per_class"]["b"]["support"] == 2


def test_predict_format():
    text = format_predictions(["Schmidhuber "], [[(-0.1912, "German"), (-2.4833, "Czech")]])
    assert text == "Schmidhuber\n    (-0.19) German\n    (-2.48) Czech"
    assert format_predictions(["Nakamura"], [[(0.0, "Japanese")]]) == "Nakamura\n    (-0.00) Japanese"


SMALL = [
    "--embedding-dim",
    "16",
    "--hidden-size",
    "32",
    "--batch-size",
    "16",
    "--quiet",
    "--max-minutes",
    "0",
    "--lr",
    "0.01",
]


@pytest.mark.parametrize("members", [1, 2])
def test_classifier_learns_predicts_and_reports(tmp_path, capsys, monkeypatch, members):
    data = write_languages(tmp_path / "langs")
    run = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "names",
                "--data-dir",
                str(data),
                "--run-dir",
                str(run),
                "--max-steps",
                "150",
                "--members",
                str(members),
                *SMALL,
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    report = json.loads((run / "report_test.json").read_text())
    assert report["accuracy"] >= 0.9 and report["macro_f1"] >= 0.9, out  # chance is 1/3
    assert (run / "confusion_test.png").stat().st_size > 1000
    split = json.loads((run / "split.json").read_text())
    assert len(split["train"]) + len(split["valid"]) + len(split["test"]) == 240
    assert main(["predict", str(run), "Kateov", "Kateson", "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Kateov" and lines[3] == "Kateson" and len(lines) == 6
    assert all(re.fullmatch(r"    \(-\d+\.\d\d\) (Ovish|Sonish|Mcish)", l) for l in lines[1:3] + lines[4:])
    assert lines[1].endswith("Ovish") and lines[4].endswith("Sonish")
    log_probs = load(run).log_probs(["Kateov", "Kateson"])
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(2))
    monkeypatch.setattr("sys.stdin", io.StringIO("McKate\n\n"))
    assert main(["predict", str(run)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "McKate" and lines[1].endswith("Mcish") and len(lines) == 4
    assert main(["predict", str(run), "  "]) == 2
    assert "name 1: empty name" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="never seen in training"):
        assert main(["predict", str(run), "Kaov!"]) == 0
    assert main(["eval", str(run), "--split", "valid"]) == 0
    out = capsys.readouterr().out
    assert "valid, per (name, language) pair: accuracy" in out and "per distinct name" in out
    assert (run / "confusion_valid.png").exists()


def test_generator_learns_samples_and_rejects_unknown_categories(tmp_path, capsys):
    data = write_languages(tmp_path / "langs")
    run = tmp_path / "gen"
    assert (
        main(["train", "names-gen", "--data-dir", str(data), "--run-dir", str(run), "--max-steps", "500", *SMALL]) == 0
    )
    capsys.readouterr()
    report = json.loads((run / "report_test.json").read_text())
    # uniform over the 18 symbols it can emit is log(18) = 2.89 nats per character
    assert report["loss"] < 2.0
    # novelty recounted here: the report's samples drawn again (100 per language, T = 1, seed 0)
    # and looked up in the training names of split.json
    generator = load(run)
    training = {(name, language) for name, language in json.loads((run / "split.json").read_text())["train"]}
    draw = torch.Generator().manual_seed(0)
    samples = [
        (generator.sample_name(language, generator=draw), language)
        for language in generator.languages
        for _ in range(100)
    ]
    seen = sum(sample in training for sample in samples)
    assert 0 < seen < len(samples)  # the fixture's short names are partly remembered, partly new
    assert report["novelty"] == {
        "samples": 300,
        "in_training": pytest.approx(seen / 300),
        "novel": pytest.approx(1 - seen / 300),
        "temperature": 1.0,
    }
    assert (
        main(["sample", str(run), "--category", "Mcish", "--start", "MKB", "--temperature", "0.5", "--seed", "1"]) == 0
    )
    names = capsys.readouterr().out.split()
    assert [n[0] for n in names] == ["M", "K", "B"] and all(len(n) > 2 for n in names)
    assert main(["sample", str(run), "--category", "Ovish"]) == 0 and capsys.readouterr().out.strip()
    scores = generator.log_likelihoods(["Kateson", "Kateov", "McKate"])  # log p(name | language)
    assert scores.shape == (3, 3) and (scores < 0).all()
    assert [generator.languages[i] for i in scores.argmax(-1)] == ["Sonish", "Ovish", "Mcish"]
    assert main(["sample", str(run), "--category", "Sonish", "--n", "20", "--temperature", "0.5", "--seed", "2"]) == 0
    names = capsys.readouterr().out.split()
    assert len(names) == 20 and sum(n.endswith("son") for n in names) >= 15
    assert main(["sample", str(run), "--category", "Klingon"]) == 2
    assert "expected one of Mcish, Ovish, Sonish" in capsys.readouterr().err
    assert main(["sample", str(run)]) == 2  # --category is required
    assert "--category is required" in capsys.readouterr().err
    assert main(["eval", str(run), "--split", "valid"]) == 0
    assert re.match(r"valid: \d\.\d{4} nats/char", capsys.readouterr().out)
    assert main(["sample", str(run), "--category", "Klingon"]) == 2
    assert "unknown category 'Klingon'; expected one of Mcish, Ovish, Sonish" in capsys.readouterr().err


def test_novelty_counts_the_samples_found_among_the_training_names_of_their_language(tmp_path, monkeypatch):
    """Novelty on samples chosen by hand: 5 of 12 are training names of their language."""
    from helpers import smoke_train

    from rnnkit.recipes.namesgen.trained import NameGenerator

    run = tmp_path / "run"
    assert main(smoke_train("names-gen", run)) == 0
    generator = load(run)
    train = generator.split()[1]["train"]
    known = {
        language: [name for name, label in train if generator.languages[label] == language][:3]
        for language in generator.languages
    }
    chosen = {
        "Mcish": [known["Mcish"][0], "Mcqqq", known["Mcish"][1], "Zzz"],  # 2 of 4 known
        "Ovish": ["Qqqov", "Zzzov", "Xxxov", known["Ovish"][0]],  # 1 of 4
        "Sonish": known["Sonish"][:2] + ["Qqson", "Zzson"],
    }  # 2 of 4
    assert sorted(chosen) == generator.languages
    drawn = {language: iter(names) for language, names in chosen.items()}
    monkeypatch.setattr(
        NameGenerator,
        "sample_name",
        lambda self, category, start="", temperature=1.0, top_k=0, top_p=1.0, generator=None: next(drawn[category]),
    )
    result = generator.novelty(per_language=4, temperature=0.5, seed=3)
    assert result == {
        "samples": 12,
        "in_training": pytest.approx(5 / 12),
        "novel": pytest.approx(7 / 12),
        "temperature": 0.5,
    }
