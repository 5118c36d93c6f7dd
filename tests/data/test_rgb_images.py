"""Colour images for captioning: any mode to RGB (3, side, side), notes on stderr, one-line
refusals for what is not an image, too big or too small; the same from bytes."""

import io
import struct
import zlib
from pathlib import Path

import pytest
import torch
from PIL import Image

from rnnkit.data.images import MAX_IMAGE_BYTES, decode_rgb_bytes, read_rgb_image

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "caption" / "images"


def _save(image, path):
    image.save(path)
    return path


def test_an_rgb_image_of_the_right_size_is_read_as_is(capsys):
    pixels = read_rgb_image(FIXTURES / "red_square.png", 16)
    assert pixels.dtype == torch.uint8 and pixels.shape == (3, 16, 16)
    assert pixels[:, 8, 8].tolist() == [200, 30, 30] and pixels[:, 0, 0].tolist() == [0, 0, 0]
    assert capsys.readouterr().err == ""


def test_resizing_is_plain_and_noted(tmp_path, capsys):
    path = _save(Image.new("RGB", (40, 20), (10, 20, 30)), tmp_path / "wide.png")
    pixels = read_rgb_image(path, 16)
    assert pixels.shape == (3, 16, 16) and pixels[:, 5, 5].tolist() == [10, 20, 30]
    assert capsys.readouterr().err.strip() == f"({path}: 40x20 resized to 16x16)"


@pytest.mark.parametrize(
    "image, expected, note",
    [
        (Image.new("L", (16, 16), 77), [77, 77, 77], "L converted to RGB"),
        (Image.new("CMYK", (16, 16), (0, 0, 0, 0)), [255, 255, 255], "CMYK converted to RGB"),
        (
            Image.new("RGBA", (16, 16), (200, 0, 0, 0)),
            [255, 255, 255],
            "RGBA with transparency composited on white to RGB",
        ),
        (
            Image.new("RGBA", (16, 16), (200, 0, 0, 255)),
            [200, 0, 0],
            "RGBA with transparency composited on white to RGB",
        ),
        (Image.new("LA", (16, 16), (0, 128)), [127, 127, 127], "LA with transparency composited on white to RGB"),
    ],
)
def test_other_modes_become_rgb_with_a_note(tmp_path, capsys, image, expected, note):
    path = _save(image, tmp_path / ("x.tif" if image.mode == "CMYK" else "x.png"))
    pixels = read_rgb_image(path, 16)
    assert [abs(a - b) <= 1 for a, b in zip(pixels[:, 3, 3].tolist(), expected)] == [True] * 3
    assert capsys.readouterr().err.strip() == f"({path}: {note})"


def test_a_palette_image_with_a_transparent_colour_is_composited(tmp_path, capsys):
    image = Image.new("P", (16, 16), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    image.putpixel((2, 2), 1)
    path = tmp_path / "p.png"
    image.save(path, transparency=0)
    pixels = read_rgb_image(path, 16)
    assert pixels[:, 2, 2].tolist() == [255, 0, 0] and pixels[:, 0, 0].tolist() == [255, 255, 255]
    assert "P with transparency composited on white" in capsys.readouterr().err


def _png_header(width, height):
    """A PNG that claims width x height RGB pixels (its data a few bytes, too few for that)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(bytes(100))) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"not an image at all", "not an image that can be read as RGB"),
        (_png_header(5000, 5000), "5000x5000 pixels, more than the 16,777,216 \\(4096x4096\\) an image may have"),
        (_png_header(4, 100), "4x100 pixels, too small; expected at least 8x8"),
        (_png_header(64, 64), "not an image that can be read as RGB"),
    ],
)
def test_bad_files_and_bytes_are_refused_in_one_line(tmp_path, data, message):
    path = tmp_path / "bad.png"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=f"^{path}: {message}") as err:
        read_rgb_image(path, 16)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match=f"^upload.png: {message}"):
        decode_rgb_bytes(data, "upload.png", 16)


def test_a_truncated_jpeg_is_refused(tmp_path):
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buffer, "JPEG")
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[:300])
    with pytest.raises(ValueError, match=f"^{path}: not an image that can be read as RGB"):
        read_rgb_image(path, 16)


def test_bytes_decode_as_the_file_does_and_are_capped():
    data = (FIXTURES / "blue_circle.png").read_bytes()
    assert torch.equal(decode_rgb_bytes(data, "b.png", 16), read_rgb_image(FIXTURES / "blue_circle.png", 16))
    with pytest.raises(ValueError, match=f"^big.png: {MAX_IMAGE_BYTES + 1:,} bytes, more than the"):
        decode_rgb_bytes(b"\0" * (MAX_IMAGE_BYTES + 1), "big.png", 16)


def test_missing_paths_and_folders_are_refused(tmp_path):
    with pytest.raises(ValueError, match="no such file; expected an image file"):
        read_rgb_image(tmp_path / "none.png", 16)
    with pytest.raises(ValueError, match="is a directory"):
        read_rgb_image(tmp_path, 16)
