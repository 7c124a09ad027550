"""images.py: every bad or unusual file gives an RGB picture or a clear ImageError."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from explorer.data.images import (
    AUGMENT_POLICIES, ImageError, Preprocessing, augmentation_samples, decode_image, denormalize, image_digest,
    preprocess, sample_images,
)
from tests import images_corpus as corpus


@pytest.mark.parametrize(("data", "message"), [
    (b"", "empty"),
    (b"this is a text file renamed to photo.jpg\n" * 20, "not an image"),
    (corpus.truncated_jpeg(), "damaged or truncated"),
    (corpus.png_bomb(), "megapixels"),
    (corpus.large_image(8000), "8000×8000 pixels"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not an image"),
])
def test_bad_files_are_refused_with_a_clear_message(data: bytes, message: str) -> None:
    with pytest.raises(ImageError, match=message):
        decode_image(data)


@pytest.mark.parametrize(("width", "height"), [(30_000, 10), (4_000_000, 1), (1, 5000)])
def test_a_strip_is_refused_from_its_header_before_it_is_resized(width: int, height: int) -> None:
    """A ~1 kB PNG of 30000x10 would be resized to 768000x256 by preprocessing (800 MB)."""
    data = corpus.png_bomb(width, height)
    assert len(data) < 2000
    with pytest.raises(ImageError, match=f"{width}×{height} pixels: its long side is over 20 times"):
        decode_image(data)


def test_formats_that_need_an_outside_program_are_refused_by_name() -> None:
    """EPS is decoded by Ghostscript: a student's upload must never run PostScript on the server."""
    eps = corpus.encode(corpus.photo(), "EPS")
    with pytest.raises(ImageError, match="EPS files are not accepted"):
        decode_image(eps)
    assert decode_image(corpus.encode(corpus.photo(), "TIFF")).format == "TIFF"  # the allowed ones still open


def test_preprocessing_refuses_a_resize_past_the_pixel_limit() -> None:
    """A long (but allowed) picture at a huge input size: refused before the resize allocates."""
    long_picture = decode_image(corpus.encode(corpus.photo(4000, 250), "PNG")).image
    with pytest.raises(ImageError, match="would make it 351 megapixels"):
        preprocess(long_picture, Preprocessing.for_size(4096))
    assert preprocess(long_picture, Preprocessing.for_size(224)).tensor.shape == (3, 224, 224)


def test_the_pixel_and_byte_limits_are_configurable() -> None:
    data = corpus.encode(corpus.photo(), "PNG")
    with pytest.raises(ImageError, match="limit"):
        decode_image(data, max_pixels=1000)
    with pytest.raises(ImageError, match="the limit is"):
        decode_image(data, max_bytes=100)


def test_exif_orientation_is_applied() -> None:
    decoded = decode_image(corpus.exif_rotated_jpeg())
    assert decoded.rotated and decoded.size == (80, 120)
    pixels = np.asarray(decoded.image)
    assert pixels[:20, -20:, 0].mean() > 200 and pixels[:20, -20:, 1].mean() < 60  # red square moved top-right


@pytest.mark.parametrize(("data", "mode"), [
    (corpus.cmyk_jpeg(), "CMYK"), (corpus.sixteen_bit_png(), "I;16"), (corpus.palette_png_with_transparency(), "P"),
    (corpus.encode(corpus.photo().convert("RGBA"), "PNG"), "RGBA"), (corpus.encode(corpus.photo().convert("L"), "PNG"), "L"),
    (corpus.encode(corpus.photo(), "WEBP"), "RGB"),
    (corpus.encode(corpus.photo(), "BMP"), "RGB"), (corpus.encode(corpus.photo(), "TIFF"), "RGB"),
])
def test_every_mode_becomes_rgb(data: bytes, mode: str) -> None:
    decoded = decode_image(data)
    assert decoded.mode == mode and decoded.image.mode == "RGB"


def test_sixteen_bit_values_are_scaled_not_clipped() -> None:
    pixels = np.asarray(decode_image(corpus.sixteen_bit_png()).image)[..., 0]
    assert pixels.min() == 0 and pixels.max() == 255 and 100 < pixels.mean() < 155


def test_transparency_is_composited_on_white() -> None:
    pixels = np.asarray(decode_image(corpus.palette_png_with_transparency()).image)
    assert tuple(pixels[0, 0]) == (255, 0, 0) and tuple(pixels[0, 31]) == (255, 255, 255)


def test_animation_uses_the_first_frame() -> None:
    decoded = decode_image(corpus.animated_gif())
    assert decoded.frames == 3
    assert tuple(np.asarray(decoded.image)[5, 5]) == (255, 0, 0)


def test_samples_are_real_photos_with_licences() -> None:
    samples = sample_images()
    assert len(samples) >= 5
    licences = (next(iter(samples.values())).parent / "LICENSES.md").read_text()
    for path in samples.values():
        assert path.name in licences
        decoded = decode_image(path.read_bytes())
        assert min(decoded.size) >= 256 and decoded.image.mode == "RGB"


def test_preprocessing_steps_match_torchvisions_preset() -> None:
    from torchvision.models import ResNet50_Weights

    image = decode_image(sample_images()["chelsea"].read_bytes()).image  # 451x300
    steps = preprocess(image)
    assert steps.resized.size == (384, 256) and steps.cropped.size == (224, 224)
    assert steps.tensor.shape == (3, 224, 224)
    reference = ResNet50_Weights.IMAGENET1K_V1.transforms()(image)
    torch.testing.assert_close(steps.tensor, reference, atol=1e-5, rtol=0)
    v2 = Preprocessing.from_weights(ResNet50_Weights.IMAGENET1K_V2)
    assert (v2.resize, v2.crop) == (232, 224)
    torch.testing.assert_close(preprocess(image, v2).tensor, ResNet50_Weights.IMAGENET1K_V2.transforms()(image), atol=1e-5, rtol=0)
    assert steps.channel_mean == pytest.approx(tuple(steps.tensor.mean(dim=(1, 2)).tolist()))
    back = np.asarray(denormalize(steps.tensor)).astype(int)
    assert np.abs(back - np.asarray(steps.cropped).astype(int)).max() <= 1


@pytest.mark.parametrize("policy", AUGMENT_POLICIES)
def test_augmentation_is_reproducible_per_seed(policy: str) -> None:
    image = corpus.photo(300, 200)
    first = augmentation_samples(image, 3, seed=1, policy=policy, crop=64)
    again = augmentation_samples(image, 3, seed=1, policy=policy, crop=64)
    other = augmentation_samples(image, 3, seed=2, policy=policy, crop=64)
    assert all(a.size == (64, 64) for a in first)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first, again))
    assert not all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(first, other))
    with pytest.raises(ValueError, match="Unknown augmentation policy"):
        augmentation_samples(image, 1, 0, policy="mixup")


def test_an_image_digest_changes_with_any_pixel_and_the_shape() -> None:
    from PIL import Image

    picture = decode_image(sample_images()["chelsea"].read_bytes()).image
    again = decode_image(sample_images()["chelsea"].read_bytes()).image
    assert image_digest(picture) == image_digest(again) and len(image_digest(picture)) == 40
    touched = picture.copy()
    touched.putpixel((0, 0), tuple(255 - v for v in picture.getpixel((0, 0))))
    wide = Image.frombytes("RGB", (4, 2), bytes(24))
    tall = Image.frombytes("RGB", (2, 4), bytes(24))  # the same bytes, another shape
    grey = Image.frombytes("L", (6, 4), bytes(24))  # the same bytes, another mode
    assert len({image_digest(picture), image_digest(touched), image_digest(wide), image_digest(tall), image_digest(grey)}) == 5
