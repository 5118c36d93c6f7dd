"""COCO captions and Karpathy split JSON readers: the fixtures read, each bad input is refused
in one line naming the file and the field."""

import json
import shutil
from pathlib import Path

import pytest

from rnnkit.data.captioned import Captioned, read_captioned, read_coco, read_karpathy

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "caption"
IMAGES = FIXTURES / "images"


def test_read_coco_groups_captions_by_image_in_file_order():
    items = read_coco(FIXTURES / "coco_captions.json", IMAGES, "train")
    assert [item.image.name for item in items] == ["red_square.png", "blue_circle.png", "green_square.png"]
    assert items[0] == Captioned(IMAGES / "red_square.png", ("A red square on black.", "a small red square"), "train")
    assert items[1].captions == ("a blue circle", "A blue disc on a black background.")
    assert {item.split for item in items} == {"train"}


def test_read_karpathy_maps_splits_and_falls_back_to_tokens():
    items = read_karpathy(FIXTURES / "dataset_flickr8k.json", IMAGES)
    assert [item.split for item in items] == ["train", "valid", "train", "test"]  # val -> valid, restval -> train
    assert items[0].captions == ("A red square.", "red box on black")  # empty "raw": the tokens joined
    assert items[1].captions == ("A blue circle",)
    assert items[2].image == IMAGES / "green_square.png"


def test_karpathy_filepath_is_a_folder_under_the_image_dir(tmp_path):
    (tmp_path / "val2014").mkdir()
    shutil.copy(IMAGES / "red_square.png", tmp_path / "val2014" / "a.png")
    data = {"images": [{"filepath": "val2014", "filename": "a.png", "split": "val", "sentences": [{"raw": "x"}]}]}
    (tmp_path / "dataset_coco.json").write_text(json.dumps(data))
    (item,) = read_karpathy(tmp_path / "dataset_coco.json", tmp_path)
    assert item == Captioned(tmp_path / "val2014" / "a.png", ("x",), "valid")


def _coco(tmp_path, change):
    data = json.loads((FIXTURES / "coco_captions.json").read_text())
    change(data)
    path = tmp_path / "captions.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("images"), r'no "images"'),
        (lambda d: d.pop("annotations"), r'no "annotations"'),
        (lambda d: d["images"][1].pop("id"), r'images\[1\] has no "id"'),
        (lambda d: d["images"][2].pop("file_name"), r'images\[2\] has no "file_name"'),
        (lambda d: d["images"][0].update(id=True), r'images\[0\] "id" is True; expected an integer or a string'),
        (lambda d: d["images"][2].update(id=1), r"images\[2\] repeats the id 1 of images\[0\]"),
        (lambda d: d["annotations"][3].update(image_id=99), r'annotations\[3\] "image_id" 99 is not the id of any'),
        (lambda d: d["annotations"][0].pop("caption"), r'annotations\[0\] has no "caption"'),
        (lambda d: d["images"][0].update(file_name="gone.png"), r'images\[0\] "file_name" names gone.png, but there'),
        (
            lambda d: d["images"][0].update(file_name="../x.png"),
            r"images\[0\] \"file_name\" names '../x.png'; expected",
        ),
        (lambda d: d["annotations"].pop(3), r"images\[2\] \(id 3\) has no caption"),
    ],
)
def test_bad_coco_files_are_refused_in_one_line(tmp_path, change, message):
    path = _coco(tmp_path, change)
    with pytest.raises(ValueError, match=f"^{path}: {message}") as err:
        read_coco(path, IMAGES, "train")
    assert "\n" not in str(err.value)


def test_coco_can_skip_uncaptioned_images_and_checks_the_split(tmp_path):
    path = _coco(tmp_path, lambda d: d["annotations"].pop(3))
    assert len(read_coco(path, IMAGES, "valid", skip_uncaptioned=True)) == 2
    with pytest.raises(ValueError, match="split 'val'; expected one of train, valid, test"):
        read_coco(path, IMAGES, "val")


@pytest.mark.parametrize(
    "text, message",
    [
        ("{not json", r"not JSON \(line 1 column 2"),
        ("[1, 2]", "expected a JSON object"),
        ("\xff", "not valid UTF-8"),
    ],
)
def test_files_that_are_not_json_objects_are_refused(tmp_path, text, message):
    path = tmp_path / "x.json"
    path.write_bytes(text.encode("latin-1"))
    for read in (lambda: read_coco(path, IMAGES, "train"), lambda: read_karpathy(path, IMAGES)):
        with pytest.raises(ValueError, match=f"^{path}: {message}"):
            read()
    with pytest.raises(ValueError, match="no such file"):
        read_karpathy(tmp_path / "missing.json", IMAGES)


def _karpathy(tmp_path, change):
    data = json.loads((FIXTURES / "dataset_flickr8k.json").read_text())
    change(data)
    path = tmp_path / "dataset_flickr8k.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.pop("images"), r'no "images"'),
        (lambda d: d.update(images={}), r'"images" is a dict; expected a list'),
        (lambda d: d["images"][1].pop("filename"), r'images\[1\] has no "filename"'),
        (lambda d: d["images"][1].pop("split"), r'images\[1\] has no "split"'),
        (lambda d: d["images"][1].update(split="dev"), r"images\[1\] \"split\" is 'dev'; expected one of train"),
        (lambda d: d["images"][2].pop("sentences"), r'images\[2\] has no "sentences"'),
        (lambda d: d["images"][2].update(sentences=[]), r"images\[2\] \(green_square.png\) has no caption"),
        (lambda d: d["images"][0]["sentences"][1].pop("tokens"), r'images\[0\] sentences\[1\] has neither a "raw"'),
        (lambda d: d["images"][3].update(filename="gone.png"), r'images\[3\] "filename" names gone.png, but there'),
        (lambda d: d["images"][3].update(filepath="/etc"), r"images\[3\] \"filename\" names '/etc/red_square.png'"),
        (lambda d: d["images"].__setitem__(0, "x"), r"images\[0\] is a str; expected an object"),
    ],
)
def test_bad_karpathy_files_are_refused_in_one_line(tmp_path, change, message):
    path = _karpathy(tmp_path, change)
    with pytest.raises(ValueError, match=f"^{path}: {message}") as err:
        read_karpathy(path, IMAGES)
    assert "\n" not in str(err.value)


def test_read_captioned_tells_the_layouts_apart(tmp_path):
    kind, items = read_captioned(FIXTURES / "coco_captions.json", IMAGES)
    assert kind == "coco" and {item.split for item in items} == {"train"}
    kind, items = read_captioned(FIXTURES / "dataset_flickr8k.json", IMAGES)
    assert kind == "karpathy" and {item.split for item in items} == {"train", "valid", "test"}
    neither = tmp_path / "neither.json"
    neither.write_text('{"images": [{"file_name": "a.png"}]}')
    with pytest.raises(ValueError, match=r'neither.json: neither a COCO captions file \(no "annotations"\)'):
        read_captioned(neither, IMAGES)
