"""PNG/JPEG/TIFF radiographs: bit depths, palette and colour, EXIF orientation, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vcfviewer.core.image import SpacingSource, Window
from vcfviewer.io.errors import LoadError
from vcfviewer.io.raster import NO_SPACING_NOTE, load_raster_image, raster_size


def test_8bit_png_keeps_values_and_says_ratios_only(tmp_path: Path) -> None:
    pixels = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    Image.fromarray(pixels).save(tmp_path / "a.png")
    image = load_raster_image(tmp_path / "a.png")
    assert np.array_equal(image.pixels, pixels.astype(np.float32))
    assert image.spacing_mm is None and image.spacing_source is SpacingSource.NONE
    assert NO_SPACING_NOTE in image.notes
    assert image.window == Window(127.5, 255.0)
    assert image.source.path == str(tmp_path / "a.png")


def test_16bit_png_keeps_its_depth(tmp_path: Path) -> None:
    pixels = (np.arange(30, dtype=np.uint16) * 1000).reshape(5, 6)
    Image.fromarray(pixels).save(tmp_path / "d.png")
    image = load_raster_image(tmp_path / "d.png")
    assert image.pixels[4, 5] == pytest.approx(29000.0)
    assert image.window.high > 255  # percentile window over the 16-bit values


def test_16bit_tiff(tmp_path: Path) -> None:
    pixels = (np.arange(20, dtype=np.uint16) * 3000).reshape(4, 5)
    Image.fromarray(pixels).save(tmp_path / "t.tif")
    assert load_raster_image(tmp_path / "t.tif").pixels[3, 4] == pytest.approx(57000.0)


def test_palette_png_becomes_grey(tmp_path: Path) -> None:
    image = Image.new("P", (4, 3))
    image.putpalette([0, 0, 0, 255, 255, 255] + [0] * 762)
    image.putpixel((1, 1), 1)
    image.save(tmp_path / "p.png")
    loaded = load_raster_image(tmp_path / "p.png")
    assert loaded.pixels[1, 1] == pytest.approx(255.0, abs=0.01)
    assert loaded.pixels[0, 0] == 0.0


def test_rgb_jpeg_becomes_luma(tmp_path: Path) -> None:
    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[...] = (200, 100, 50)
    Image.fromarray(rgb).save(tmp_path / "c.jpg", quality=100)
    image = load_raster_image(tmp_path / "c.jpg")
    assert image.pixels[8, 8] == pytest.approx(0.299 * 200 + 0.587 * 100 + 0.114 * 50, abs=2)
    assert "colour image converted to grey" in image.notes


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    pixels = np.zeros((4, 10), np.uint8)
    pixels[0, 9] = 255  # top-right
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    Image.fromarray(pixels).save(tmp_path / "r.jpg", exif=exif, quality=100)
    image = load_raster_image(tmp_path / "r.jpg")
    assert image.pixels.shape == (10, 4)
    assert "rotated according to the EXIF orientation" in image.notes


def test_multi_page_tiff_shows_the_first_page(tmp_path: Path) -> None:
    pages = [Image.fromarray(np.full((3, 3), v, np.uint8)) for v in (10, 20)]
    pages[0].save(tmp_path / "m.tif", save_all=True, append_images=pages[1:])
    image = load_raster_image(tmp_path / "m.tif")
    assert np.all(image.pixels == 10)
    assert "multi-page file: showing page 1 of 2" in image.notes
    assert raster_size(tmp_path / "m.tif") == (3, 3, 2)


def test_broken_and_truncated_files_are_load_errors(tmp_path: Path) -> None:
    (tmp_path / "junk.png").write_bytes(b"not a png at all")
    with pytest.raises(LoadError, match="not a readable image file"):
        load_raster_image(tmp_path / "junk.png")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(LoadError, match="cut.png: not a readable image file"):
        load_raster_image(tmp_path / "cut.png")
    with pytest.raises(LoadError, match="file not found"):
        load_raster_image(tmp_path / "absent.png")
