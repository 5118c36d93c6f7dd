"""The captioning recipe's scenes: generated data sets, the caption grammar, truth scores."""

from pathlib import Path

import numpy as np
import pytest

from rnnkit.recipes.caption import fashion, scenes, shapes, truth
from rnnkit.recipes.caption.scenes import Scene, Thing, parse

FASHION_DIR = Path("/work/shared/data/fashion-mnist")


def constant_pool(classes: int = 10, per_class: int = 3):
    """Articles that are constant images, one distinct value each, labelled by class."""
    count = classes * per_class
    values = np.arange(count, dtype=np.uint8) * 7 + 20
    images = np.broadcast_to(values[:, None, None], (count, 28, 28)).copy()
    return images, np.arange(count) % classes, values


# -- seeding and splits --------------------------------------------------------------------------


def test_shapes_generator_is_seeded_and_prefix_stable():
    images, scene_list, texts = shapes.generate("train", 20, seed=3)
    again = shapes.generate("train", 20, seed=3)
    assert images.dtype.is_floating_point is False and tuple(images.shape) == (20, 3, 64, 64)
    assert bytes(images.numpy()) == bytes(again[0].numpy()) and scene_list == again[1] and texts == again[2]
    other = shapes.generate("train", 20, seed=4)
    assert not (images == other[0]).all() and scene_list != other[1]
    prefix = shapes.generate("train", 7, seed=3)
    assert (prefix[0] == images[:7]).all() and prefix[1] == scene_list[:7] and prefix[2] == texts[:7]
    image, scene, caps = shapes.generate_one("train", 12, 3)
    assert (image == images[12].numpy()).all() and scene == scene_list[12] and caps == texts[12]


def test_shapes_stay_on_the_canvas_at_any_side():
    for side in (24, 33, 48, 65, 90):
        images, scene_list, _ = shapes.generate("train", 60, seed=3, side=side)
        assert tuple(images.shape) == (60, 3, side, side)


def test_splits_are_disjoint_and_hold_out_pairs():
    """No validation or test scene (objects, attributes, cells) is a training scene: with 3,000 training
    scenes and no partition of the scene space, a third of the one-object test scenes would be."""
    seen = {}
    for split, count in (("train", 3000), ("valid", 300), ("test", 300)):
        _, scene_list, _ = shapes.generate(split, count, seed=0)
        seen[split] = set(scene_list)
        assert not set(shapes.pair_counts(scene_list)) & shapes.HELD_OUT
    assert not seen["train"] & seen["test"] and not seen["train"] & seen["valid"] and not seen["valid"] & seen["test"]
    assert len(seen["train"]) > 2300  # the partition still leaves training a varied set (one-object scenes repeat)
    _, compositional, _ = shapes.generate("compositional", 300, seed=0)
    assert all(any((t.kind, t.colour) in shapes.HELD_OUT for t in s.things) for s in compositional)
    # each colour at most once, one per shape
    assert len({c for _, c in shapes.HELD_OUT}) == len(shapes.HELD_OUT) == len(shapes.SHAPES)


# -- the grammar ---------------------------------------------------------------------------------


def check_round_trip(scene_list, texts, kinds):
    for scene, caps in zip(scene_list, texts):
        assert len(caps) == 5 and len(set(caps)) == 5
        for caption in caps:
            assert parse(caption, scene.grid, kinds) == scene, caption


def test_every_shapes_caption_parses_back():
    _, scene_list, texts = shapes.generate("train", 2000, seed=1)
    check_round_trip(scene_list, texts, shapes.SHAPES)
    assert {len(s.things) for s in scene_list} == {1, 2, 3}


@pytest.mark.parametrize("names", [fashion.CLASSES, fashion.DIGITS])
def test_every_fashion_caption_parses_back(names):
    images, labels, _ = constant_pool()
    _, scene_list, texts = fashion.generate("train", 1500, 2, images, labels, names)
    check_round_trip(scene_list, texts, names)
    kinds = {t.kind for s in scene_list for t in s.things}
    assert kinds == set(names)


def test_every_paraphrase_device_parses():
    rng = np.random.default_rng(0)
    things = (Thing("ankle boot", 0), Thing("t-shirt", 1), Thing("bag", 2), Thing("eight", 3))
    for count in (1, 2, 3, 4):
        chosen = [things[i] for i in sorted(rng.choice(4, count, replace=False))]
        scene = Scene(tuple(chosen), 2)
        for order in (chosen, chosen[::-1]):
            for form in ("after", "before", "there"):
                for lead in ("", *scenes.LEAD_INS):
                    text = scenes.render(order, 2, form, lead)
                    assert parse("  " + text.replace(" ", "   ") + " ", 2, fashion.CLASSES + ("eight",)) == scene
    assert scenes.render([Thing("ankle boot", 0)], 2) == "an ankle boot in the top left"
    assert scenes.describe(Thing("one", 0)) == "a one" and scenes.describe(Thing("eight", 0)) == "an eight"


def test_parse_rejects_what_is_not_a_caption():
    kinds = shapes.SHAPES
    good = "a small red circle in the top left corner and a large blue square at the top and a small white cross in the centre"
    assert parse(good, 3, kinds) is not None
    for bad in (
        "",
        "hello world",
        good + " please",  # trailing words
        good.replace(" and ", " "),  # no "and" between the things
        good.replace("corner and", "corner"),  # an "and" missing before the second thing
        good.replace("at the top and", "and at the top"),  # "and" in the wrong place
        "a red circle in the centre",  # missing size
        "a small circle in the centre",  # missing colour
        "a small pink circle in the centre",  # unknown colour
        "a small red blob in the centre",  # unknown kind
        "an small red circle in the centre",  # wrong article
        "a small red circle in the centre and a large blue square in the centre",  # two in one cell
        "a small red circle in the top left",  # a 2x2 location on the 3x3 grid
        "a small red circle",  # no location
        "in the centre in the top left corner a small red circle",  # two locations
    ):
        assert parse(bad, 3, kinds) is None, bad
    assert parse("a small red sneaker in the top left and a bag in the top right", 2, fashion.CLASSES) is None
    assert parse("a sneaker in the top left and a bag in the top right", 2, fashion.CLASSES) is not None


def test_scene_json_and_relations():
    scene = Scene((Thing("circle", 0, "red", "small"), Thing("square", 4, "blue", "large")), 3)
    assert Scene.from_json(scene.to_json()) == scene
    assert Scene.from_json(Scene((Thing("bag", 3),), 2).to_json()) == Scene((Thing("bag", 3),), 2)
    a, b = ("circle", "red", "small"), ("square", "blue", "large")
    assert scenes.relations(scene) == {(a, "left of", b), (a, "above", b), (b, "right of", a), (b, "below", a)}
    with pytest.raises(ValueError):
        Scene((Thing("circle", 4), Thing("square", 4)), 3)


# -- truth scores --------------------------------------------------------------------------------


def test_truth_scores_perfect_and_by_hand():
    _, scene_list, texts = shapes.generate("valid", 200, seed=5)
    perfect = truth.truth_scores([t[1] for t in texts], scene_list, shapes.SHAPES)
    for name, value in perfect.items():
        if name not in ("things", "captions", "by_count"):
            assert value == 1.0, name
    assert perfect["captions"] == 200 and perfect["things"] == sum(len(s.things) for s in scene_list)
    counts = {str(n): sum(len(s.things) == n for s in scene_list) for n in (1, 2, 3)}
    assert perfect["by_count"] == {
        n: {"captions": c, "exact": 1.0, "more": 0.0, "fewer": 0.0} for n, c in counts.items()
    }

    scene = Scene((Thing("circle", 0, "red", "small"), Thing("square", 4, "blue", "large")), 3)
    wrong = "a small red circle in the top left corner and a large green square in the centre"
    scores = truth.truth_scores([wrong], [scene], shapes.SHAPES)
    assert scores["exact"] == 0.0 and scores["parsed"] == 1.0
    assert scores["object_precision"] == scores["object_recall"] == 0.5  # 1 of 2 things right
    assert scores["attribute_precision"] == scores["attribute_recall"] == pytest.approx(5 / 6)
    assert scores["relation_precision"] == scores["relation_recall"] == 0.0  # all 4 involve the square
    assert scores["article_accuracy"] == 1.0 and scores["things"] == 2

    garbled = "a small red circle in the top left corner uh and a large green triangle in the centre"
    partial = truth.truth_scores([garbled], [scene], shapes.SHAPES)
    assert partial["parsed"] == 0.0 and partial["object_recall"] == 0.0 and partial["object_precision"] == 0.0
    assert partial["article_accuracy"] == 0.5  # the circle is read from what survives


def test_truth_scores_by_count_of_things():
    """An object named twice counts as more (the parser rejects it), one left out as fewer."""
    one = Scene((Thing("circle", 0, "red", "small"),), 3)
    three = Scene(
        (Thing("circle", 0, "red", "small"), Thing("square", 4, "blue", "large"), Thing("cross", 8, "white", "small")),
        3,
    )
    twice = "a small red circle in the top left corner and a small red circle in the top left corner"
    two_of_three = "a small red circle in the top left corner and a large blue square in the centre"
    right = two_of_three + " and a small white cross in the bottom right corner"
    scores = truth.truth_scores([twice, two_of_three, right], [one, three, three], shapes.SHAPES)
    assert scores["by_count"] == {
        "1": {"captions": 1, "exact": 0.0, "more": 1.0, "fewer": 0.0},
        "3": {"captions": 2, "exact": 0.5, "more": 0.0, "fewer": 0.5},
    }


# -- pixels --------------------------------------------------------------------------------------


def test_things_are_drawn_in_their_cells_only():
    images, scene_list, _ = shapes.generate("test", 60, seed=2)
    side, third = 64, 64 / 3
    for image, scene in zip(images.numpy().astype(int), scene_list):
        filled = {t.cell for t in scene.things}
        for thing in scene.things:
            row, col = shapes.cell_centre(thing.cell, side)
            patch = image[:, row - 2 : row + 3, col - 2 : col + 3].reshape(3, -1)
            close = (np.abs(patch - np.array(shapes.RGB[thing.colour])[:, None]) <= shapes.NOISE).all(axis=0)
            assert close.any(), thing
        for cell in set(range(9)) - filled:
            r, c = divmod(cell, 3)
            inner = image[
                :, int(r * third) + 1 : int((r + 1) * third) - 1, int(c * third) + 1 : int((c + 1) * third) - 1
            ]
            assert inner.max() <= shapes.BACKGROUND + shapes.NOISE
        assert image.min() >= 0 and np.unique(image).size > 20  # noisy, not flat


def test_fashion_uses_the_given_pool_only():
    images, labels, values = constant_pool()
    canvases, scene_list, _ = fashion.generate("test", 200, 1, images, labels, fashion.CLASSES)
    assert tuple(canvases.shape) == (200, 3, 64, 64)
    assert {len(s.things) for s in scene_list} == {2, 3, 4}
    for index, (canvas, scene) in enumerate(zip(canvases.numpy(), scene_list)):
        assert (canvas[0] == canvas[1]).all() and (canvas[0] == canvas[2]).all()
        by_cell = {t.cell: t for t in scene.things}
        for cell in range(4):
            r, c = divmod(cell, 2)
            quadrant = canvas[0, r * 32 : r * 32 + 32, c * 32 : c * 32 + 32]
            if cell not in by_cell:
                assert not quadrant.any()
                continue
            lit = np.unique(quadrant[quadrant > 0])
            assert lit.size == 1 and (quadrant > 0).sum() == 28 * 28
            article = int(np.flatnonzero(values == lit[0])[0])
            assert fashion.CLASSES[labels[article]] == by_cell[cell].kind
        if index < 5:
            _, again, _, used = fashion.generate_one("test", index, 1, images, labels, fashion.CLASSES)
            assert again == scene and [fashion.CLASSES[labels[i]] for i in used] == [t.kind for t in scene.things]


@pytest.mark.skipif(not FASHION_DIR.is_dir(), reason=f"no Fashion-MNIST files in {FASHION_DIR}")
def test_fashion_on_the_real_articles():
    from rnnkit.data import mnist

    images, labels = mnist.load_split(FASHION_DIR, "test")
    canvases, scene_list, texts = fashion.generate("test", 100, 0, images[:500], labels[:500], fashion.CLASSES)
    check_round_trip(scene_list, texts, fashion.CLASSES)
    assert canvases.float().mean() > 5
