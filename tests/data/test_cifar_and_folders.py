"""The CIFAR-10 binary reader and the image-folder reader on small fixtures, bad files included."""

import pytest
import torch
from PIL import Image

from rnnkit.data import cifar
from rnnkit.data.image_folder import list_folder, read_folder


def _records(labels, seed=0):
    """CIFAR-10 binary bytes for ``labels``, images random; returns (bytes, images (N, 3, 32, 32))."""
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (len(labels), 3, 32, 32), generator=gen, dtype=torch.uint8)
    rows = [
        torch.cat([torch.tensor([label], dtype=torch.uint8), img.reshape(-1)]) for label, img in zip(labels, images)
    ]
    return torch.cat(rows).numpy().tobytes(), images


def test_a_batch_file_reads_back_planes_and_labels(tmp_path):
    data, images = _records([3, 0, 9])
    (tmp_path / "test_batch.bin").write_bytes(data)
    got, labels = cifar.read_batch(tmp_path / "test_batch.bin")
    assert labels.tolist() == [3, 0, 9] and got.dtype == torch.uint8
    assert torch.equal(got, images)  # R plane, then G, then B, each row by row
    # the first byte after the label is the top-left red pixel
    assert got[0, 0, 0, 0] == data[1] and got[0, 1, 0, 0] == data[1 + 1024] and got[0, 0, 0, 1] == data[2]


def test_the_training_split_joins_the_five_batches_in_the_archives_subfolder(tmp_path):
    where = tmp_path / "cifar-10-batches-bin"
    where.mkdir()
    for k in range(1, 6):
        (where / f"data_batch_{k}.bin").write_bytes(_records([k, k], seed=k)[0])
    images, labels = cifar.load_split(tmp_path, "train")
    assert images.shape == (10, 3, 32, 32) and labels.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert cifar.class_names(tmp_path) == cifar.CLASSES  # no batches.meta.txt
    with pytest.raises(FileNotFoundError, match="test_batch.bin: no such file"):
        cifar.load_split(tmp_path, "test")


def test_a_truncated_record_is_named(tmp_path):
    path = tmp_path / "data_batch_1.bin"
    path.write_bytes(_records([1, 2, 3])[0][:-100])
    with pytest.raises(ValueError, match=r"data_batch_1.bin: 9,119 bytes .* record 3 is truncated \(2,973 bytes\)"):
        cifar.read_batch(path)


def test_a_label_out_of_range_names_its_record(tmp_path):
    data = bytearray(_records([1, 2, 3])[0])
    data[2 * cifar.RECORD] = 42  # record 3's label
    (tmp_path / "b.bin").write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"b.bin, record 3: label 42, expected 0-9"):
        cifar.read_batch(tmp_path / "b.bin")


def test_cifar100_records_are_named(tmp_path):
    (tmp_path / "test.bin").write_bytes(bytes(3 * 3074))
    with pytest.raises(ValueError, match=r"test.bin: 9,222 bytes of 3,074-byte records: CIFAR-100\?"):
        cifar.read_batch(tmp_path / "test.bin")


def test_an_empty_file_is_refused(tmp_path):
    (tmp_path / "b.bin").write_bytes(b"")
    with pytest.raises(ValueError, match="b.bin: empty file"):
        cifar.read_batch(tmp_path / "b.bin")


def _folder(tmp_path, classes):
    """root/CLASS/k.png for each (class, count); colours by class."""
    root = tmp_path / "photos"
    for c, (name, count) in enumerate(classes):
        (root / name).mkdir(parents=True)
        for k in range(count):
            Image.new("RGB", (20 + k, 12), (40 * c, 10 * k, 200)).save(root / name / f"{k}.png")
    return root


def test_an_image_folder_is_labelled_by_sorted_subfolders(tmp_path):
    root = _folder(tmp_path, [("dog", 1), ("cat", 2)])
    (root / "cat" / ".DS_Store").write_bytes(b"\0")  # hidden files are not counted
    found = read_folder(root, side=16)
    assert found.classes == ("cat", "dog") and found.labels.tolist() == [0, 0, 1]
    assert found.images.shape == (3, 3, 16, 16) and found.images.dtype == torch.uint8
    assert found.images[0, :, 0, 0].tolist() == [40, 0, 200]  # cat's colour (made second), resized
    assert found.images[2, :, 0, 0].tolist() == [0, 0, 200]  # dog's
    assert [p.name for p in found.files] == ["0.png", "1.png", "0.png"] and found.skipped == []


def test_an_empty_class_is_an_error_even_when_skipping(tmp_path):
    root = _folder(tmp_path, [("cat", 1)])
    (root / "dog").mkdir()
    for skip in (False, True):
        with pytest.raises(ValueError, match=r"dog: class 'dog' has no images"):
            list_folder(root, skip_bad=skip)


def test_a_file_that_is_not_an_image_is_named_or_skipped_and_counted(tmp_path):
    root = _folder(tmp_path, [("cat", 2), ("dog", 1)])
    (root / "cat" / "notes.txt").write_text("not a picture")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(ValueError, match=r"notes.txt: not an image file .*--skip-bad-files"):
        read_folder(root, side=8)
    (root / "cat" / "notes.txt").unlink()
    with pytest.raises(ValueError, match=r"broken.png.*--skip-bad-files"):
        read_folder(root, side=8)
    (root / "cat" / "notes.txt").write_text("not a picture")
    found = read_folder(root, side=8, skip_bad=True)
    assert found.labels.tolist() == [0, 0, 1]
    assert sorted(p.name for p, _ in found.skipped) == ["broken.png", "notes.txt"]


def test_a_class_whose_only_image_is_broken_is_an_error(tmp_path):
    root = _folder(tmp_path, [("cat", 1)])
    (root / "dog").mkdir()
    (root / "dog" / "x.jpg").write_bytes(b"nope")
    with pytest.raises(ValueError, match=r"dog: class 'dog' has no readable images"):
        read_folder(root, side=8, skip_bad=True)


def test_not_a_folder(tmp_path):
    with pytest.raises(ValueError, match="nowhere: not a folder"):
        list_folder(tmp_path / "nowhere")
