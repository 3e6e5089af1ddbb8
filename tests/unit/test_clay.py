"""The clay look: flattened, smoothed, shaded, textured, and the same every time."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bot.media import clay
from bot.media.clay import box_blur, clay_layers, clay_still, flatten, smooth_noise
from bot.media.sample import sample_photo


def _colours(image: Image.Image) -> int:
    return len(np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0))


def _thumb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L").resize((16, 12), Image.Resampling.BOX), np.float32)


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    """The sample scene with sensor-like noise, so it has as many colours as a real photo."""
    scene = Image.open(io.BytesIO(sample_photo(width=320, height=240))).convert("RGB")
    noise = np.random.default_rng(7).normal(0, 8, (240, 320, 3))
    noisy = np.clip(np.asarray(scene, np.float32) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(noisy, "RGB")


@pytest.fixture(scope="module")
def still(photo: Image.Image) -> Image.Image:
    return clay_still(photo, seed=0)


def test_same_size_and_rgb(photo: Image.Image, still: Image.Image) -> None:
    assert still.size == photo.size
    assert still.mode == "RGB"


@pytest.mark.parametrize("mode", ["RGBA", "L", "P"])
def test_other_modes_come_back_rgb(photo: Image.Image, mode: str) -> None:
    small = photo.resize((120, 90)).convert(mode)
    out = clay_still(small, seed=3)
    assert out.size == (120, 90)
    assert out.mode == "RGB"


def test_flatten_uses_a_small_palette(photo: Image.Image) -> None:
    flat, labels = flatten(photo)
    assert flat.size == photo.size
    assert labels.shape == (photo.height, photo.width)
    assert _colours(flat) <= clay._PALETTE
    assert len(np.unique(labels)) <= clay._PALETTE


def test_fewer_colours_than_the_photo(photo: Image.Image, still: Image.Image) -> None:
    # Shading and texture add shades back, but far fewer than a noisy photo has.
    assert _colours(still) < _colours(photo) / 2


def test_smoother_than_the_photo(photo: Image.Image, still: Image.Image) -> None:
    def roughness(image: Image.Image) -> float:
        grey = np.asarray(image.convert("L"), np.float32)
        return float(np.abs(np.diff(grey, axis=1)).mean() + np.abs(np.diff(grey, axis=0)).mean())

    assert roughness(still) < roughness(photo) * 0.6


def test_still_looks_like_the_photo(photo: Image.Image, still: Image.Image) -> None:
    """Same picture, not noise: coarse brightness layout correlates strongly."""
    corr = np.corrcoef(_thumb(photo).ravel(), _thumb(still).ravel())[0, 1]
    assert corr > 0.85


def test_deterministic_for_a_seed(photo: Image.Image, still: Image.Image) -> None:
    assert clay_still(photo, seed=0).tobytes() == still.tobytes()


def test_seed_changes_only_the_texture(photo: Image.Image, still: Image.Image) -> None:
    other = clay_still(photo, seed=1)
    diff = np.abs(np.asarray(other, np.float32) - np.asarray(still, np.float32)).mean()
    assert 0 < diff < 8


def test_fast_mode_is_close_to_the_full_one(photo: Image.Image, still: Image.Image) -> None:
    fast = clay_still(photo, seed=0, fast=True)
    assert fast.size == still.size
    corr = np.corrcoef(_thumb(fast).ravel(), _thumb(still).ravel())[0, 1]
    assert corr > 0.95


def test_layers_are_shaped_and_lit(photo: Image.Image) -> None:
    layers = clay_layers(photo, seed=0)
    h, w = photo.height, photo.width
    assert layers.flat.shape == (h, w, 3)
    assert layers.relief.shape == layers.shading.shape == layers.specular.shape == (h, w)
    # lumps are lit unevenly (relief) and the highlight stays a highlight, not a wash
    assert float(layers.shading.std()) > 0.03
    assert 0 <= float(layers.specular.min()) and float(layers.specular.max()) <= 0.25
    # the key light is at the top left, so that corner is brighter on average
    quarter = (h // 4, w // 4)
    assert (
        layers.shading[: quarter[0], : quarter[1]].mean()
        > layers.shading[-quarter[0] :, -quarter[1] :].mean()
    )


def test_box_blur_keeps_flat_fields_and_mean() -> None:
    flat = np.full((40, 50), 3.0, np.float32)
    assert np.allclose(box_blur(flat, 4), 3.0)
    spike = np.zeros((41, 41), np.float32)
    spike[20, 20] = 1.0
    blurred = box_blur(spike, 3, passes=2)
    assert blurred.sum() == pytest.approx(1.0, rel=1e-4)
    assert blurred.max() < 0.1
    assert blurred[20, 20] == blurred.max()


def test_smooth_noise_is_seeded_and_bounded() -> None:
    a = smooth_noise((60, 80), 8.0, np.random.default_rng(5))
    b = smooth_noise((60, 80), 8.0, np.random.default_rng(5))
    c = smooth_noise((60, 80), 8.0, np.random.default_rng(6))
    assert a.shape == (60, 80)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert float(np.abs(a).max()) <= 1.3  # bicubic may overshoot -1..1 a little
    # smooth: neighbours are far closer than random values would be
    assert float(np.abs(np.diff(a, axis=1)).mean()) < 0.25
