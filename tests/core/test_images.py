from pathlib import Path

import pytest
from PIL import Image

from core.images.decode import ImageError, examine, load_rgb, read_info, thumbnail
from imagegen import bad_files


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("bad")
    return root, bad_files(root)


def test_every_awkward_file_loads_as_rgb_or_gives_its_reason(bad):
    root, expect = bad
    for name, outcome in expect.items():
        if outcome == "ok":
            image = load_rgb(root / name)
            assert image.mode == "RGB", name
        else:
            with pytest.raises(ImageError) as info:
                load_rgb(root / name)
            assert outcome in str(info.value), (name, str(info.value))


def test_exif_rotation_is_applied(bad):
    root, _ = bad
    assert load_rgb(root / "rotated.jpg").size == (20, 60)
    assert (read_info(root / "rotated.jpg").width, read_info(root / "rotated.jpg").height) == (20, 60)


def test_modes_convert_to_sensible_colours(bad):
    root, _ = bad
    assert load_rgb(root / "sixteen.png").getpixel((0, 0)) == (255, 255, 255)  # the brightest value → white
    assert load_rgb(root / "palette_alpha.png").getpixel((0, 0)) == (255, 0, 0)
    assert load_rgb(root / "animated.gif").getpixel((0, 0)) == (255, 0, 0)  # first frame
    r, g, b = load_rgb(root / "cmyk.jpg").getpixel((5, 5))
    assert r < 60 and g > 200 and b > 200  # cyan, not inverted


def test_transparent_pixels_become_white(tmp_path):
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    assert load_rgb(tmp_path / "clear.png").getpixel((1, 1)) == (255, 255, 255)


def test_draft_decoding_keeps_enough_pixels(tmp_path):
    Image.new("RGB", (4000, 3000), (90, 90, 90)).save(tmp_path / "big.jpg", quality=80)
    small = load_rgb(tmp_path / "big.jpg", min_side=224)
    assert min(small.size) >= 224 and small.size[0] <= 1000  # decoded at 1/4 scale, not full size
    thumb = thumbnail(tmp_path / "big.jpg", 256)
    assert max(thumb.size) == 256
    info, thumb2 = examine(tmp_path / "big.jpg", 128)
    assert (info.width, info.height) == (4000, 3000) and max(thumb2.size) == 128
