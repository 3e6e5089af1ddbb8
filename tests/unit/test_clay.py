"""The clay look: modelled planes, a limited palette, soft light, and the same every time."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image, ImageFilter

from bot.media import clay
from bot.media.clay import (
    box_blur,
    clay_layers,
    clay_still,
    flatten,
    l0_smooth,
    retouch,
    smooth_noise,
    upscale_labels,
    wide_blur,
)
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


def _gradient_energy(image: Image.Image) -> np.ndarray:
    grey = np.asarray(image.convert("L"), np.float32)
    gx = np.zeros_like(grey)
    gy = np.zeros_like(grey)
    gx[:, 1:] = np.diff(grey, axis=1)
    gy[1:, :] = np.diff(grey, axis=0)
    return gx * gx + gy * gy


def test_less_gradient_energy_than_the_photo_but_its_edges_kept(
    photo: Image.Image, still: Image.Image
) -> None:
    """Smoothed planes, not a sharpening filter; yet the photo's outlines are still there."""
    before, after = _gradient_energy(photo), _gradient_energy(still)
    assert after.mean() < before.mean() * 0.5

    def coarse(energy: np.ndarray) -> np.ndarray:
        return np.asarray(
            Image.fromarray(np.sqrt(energy)).resize((40, 30), Image.Resampling.BOX), np.float32
        )

    # Where the photo has its strong outlines, the still has its strong edges too.
    strong = coarse(before) > np.percentile(coarse(before), 85)
    assert coarse(after)[strong].mean() > 1.5 * coarse(after)[~strong].mean()


def _disc() -> Image.Image:
    """A flat orange disc on a flat blue ground: one clean edge and nothing else."""
    image = Image.new("RGB", (240, 240), (70, 110, 190))
    yy, xx = np.mgrid[:240, :240]
    disc = (xx - 120) ** 2 + (yy - 120) ** 2 < 70**2
    pixels = np.asarray(image).copy()
    pixels[disc] = (230, 130, 40)
    return Image.fromarray(pixels, "RGB")


def test_no_emboss_halo_around_an_edge() -> None:
    """An emboss draws a light line along one side of every edge and a dark one along
    the other, outside the shape as well as inside. Modelled clay shades the rounded
    lump itself: just outside the disc, the ground looks like the open ground nearby,
    on the lit side and on the shaded side."""
    still = np.asarray(clay_still(_disc(), seed=0).convert("L"), np.float32)
    yy, xx = np.mgrid[:240, :240]
    r = np.sqrt((xx - 120) ** 2 + (yy - 120) ** 2)
    for side in ((xx < 110) & (yy < 110), (xx > 130) & (yy > 130)):
        ground = still[(r > 95) & (r < 110) & side].mean()
        for inner in range(71, 86, 3):
            ring = still[(r >= inner) & (r < inner + 3) & side].mean()
            assert abs(ring - ground) < 12, f"a halo {ring - ground:+.0f} at radius {inner}"


def test_the_rounded_lump_is_lit_from_the_top_left() -> None:
    """A soft key light: the disc's top-left shoulder is brighter than its bottom-right."""
    still = np.asarray(clay_still(_disc(), seed=0).convert("L"), np.float32)
    yy, xx = np.mgrid[:240, :240]
    r = np.sqrt((xx - 120) ** 2 + (yy - 120) ** 2)
    rim = (r > 55) & (r < 68)
    top_left = rim & (xx < 120) & (yy < 120)
    bottom_right = rim & (xx > 120) & (yy > 120)
    assert still[top_left].mean() > still[bottom_right].mean() + 4


def test_the_palette_is_a_little_richer_than_the_photo(photo: Image.Image) -> None:
    """Dyed plasticine: colours a little more colourful than the (noise-free) photo's."""

    def chroma(image: Image.Image) -> float:
        rgb = np.asarray(image, np.float32)
        return float((rgb.max(axis=2) - rgb.min(axis=2)).mean())

    flat, _ = flatten(photo)
    smooth = photo.filter(ImageFilter.GaussianBlur(3))  # the sensor noise's false colour out
    assert chroma(smooth) * 1.02 < chroma(flat) < chroma(smooth) * 1.4


def test_l0_smoothing_flattens_noise_and_keeps_a_step() -> None:
    rng = np.random.default_rng(3)
    step = np.zeros((60, 80, 3), np.float32)
    step[:, 40:] = 0.8
    noisy = np.clip(step + rng.normal(0, 0.05, step.shape), 0, 1).astype(np.float32)
    flat = l0_smooth(noisy, 0.01)
    assert flat[:, 5:35].std() < noisy[:, 5:35].std() / 3  # planes come out flat
    assert abs(float(flat[:, 45:].mean() - flat[:, :35].mean()) - 0.8) < 0.1  # the edge stays


def test_upscaled_labels_invent_nothing_and_keep_the_layout() -> None:
    labels = np.zeros((30, 40), np.uint8)
    labels[8:22, 10:30] = 3
    labels[12:16, 14:20] = 7
    big = upscale_labels(labels, (120, 90))
    assert big.shape == (90, 120)
    assert set(np.unique(big)) == {0, 3, 7}
    assert (big == 3).mean() == pytest.approx((labels == 3).mean(), abs=0.03)
    assert big[45, 80] == 3 and big[45, 50] == 7 and big[5, 5] == 0


def test_wide_blur_is_close_to_the_full_size_one() -> None:
    field = smooth_noise((90, 120), 20.0, np.random.default_rng(1))
    assert np.abs(wide_blur(field, 12) - box_blur(field, 12)).mean() < 0.03


def test_retouch_dents_a_few_spots_and_is_seeded() -> None:
    """A take's fresh fingertip dents: clear where they are, few, and the rest untouched."""
    a = retouch((120, 160), np.random.default_rng(4))
    assert np.array_equal(a, retouch((120, 160), np.random.default_rng(4)))
    assert not np.array_equal(a, retouch((120, 160), np.random.default_rng(5)))
    changed = np.abs(a - 1.0)
    assert changed.max() > 0.1
    assert 0.005 < float((changed > 0.02).mean()) < 0.2
    assert abs(float(a.mean()) - 1.0) < 0.01


def test_a_720p_still_takes_well_under_a_few_seconds(photo: Image.Image) -> None:
    big = photo.resize((1280, 720))
    start = time.process_time()
    clay_still(big, seed=0, fast=True)
    assert time.process_time() - start < 4.0  # about 1 s on one core of the dev machine
