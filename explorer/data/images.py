"""Safe image decoding, evaluation preprocessing shown step by step, augmentation previews.

Uploads are judged by their bytes, never by their names, and are never written to disk.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torchvision.transforms import InterpolationMode, v2
from torchvision.transforms.v2 import functional as TF

from explorer.runtime.i18n import N_, _
from explorer.runtime.private_rng import private_rng

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "samples"
# 40 megapixels (e.g. 8000x5000) and 50 MB of file: beyond any classroom photo, far below
# what would exhaust the server. Pillow itself only warns below 2 x its MAX_IMAGE_PIXELS.
MAX_PIXELS = 40_000_000
MAX_FILE_BYTES = 50 * 2**20
# A long side over 20 times the short one is a strip, not a photo (a wide panorama is ~6:1).
# Preprocessing resizes the short side to ~256 px, so a tiny 30000x10 PNG would become a
# 768000x256 picture: the ratio is what bounds that, and it is read from the header.
MAX_ASPECT = 20
# The formats Pillow decodes itself. Others it knows hand the bytes to an outside program
# (EPS to Ghostscript) or are not pictures of the world; they are refused by name.
FORMATS = ("JPEG", "PNG", "WEBP", "AVIF", "GIF", "BMP", "DIB", "TIFF", "PPM", "TGA", "ICO", "JPEG2000")  # JPEG: MPO too
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Values compared in code; a page shows them through `_()` ("none" is a word, the rest names).
AUGMENT_POLICIES = (N_("none"), "AutoAugment", "RandAugment", "TrivialAugmentWide", "AugMix")


class ImageError(ValueError):
    """A file that cannot be used as an image; the message says why, for the user."""


@dataclass(frozen=True)
class DecodedImage:
    """An upload turned into an RGB picture, with what it was."""

    image: Image.Image  # RGB, EXIF orientation applied
    format: str  # "JPEG", "PNG", ...
    mode: str  # the file's original mode, e.g. "CMYK", "I;16", "P"
    size: tuple[int, int]  # (width, height) after orientation
    frames: int  # 1, or the number of frames of an animation (the first is used)
    rotated: bool  # EXIF orientation changed the picture


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency is composited on white."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        values = np.asarray(image, dtype=np.float64)
        top = 65535.0 if image.mode.startswith("I;16") else max(float(values.max()), 1.0)
        grey = np.clip(values / top * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, "L").convert("RGB")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def picture_format(data: bytes) -> str | None:
    """The picture format Pillow recognises in ``data`` from its header ("PNG", "JPEG", ...), or None."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format
    except Exception:  # not a picture, or not one Pillow knows: that is the answer
        return None


def decode_image(data: bytes, max_pixels: int = MAX_PIXELS, max_bytes: int = MAX_FILE_BYTES) -> DecodedImage:
    """Decode uploaded bytes; raise `ImageError` with a clear sentence for anything unusable.

    This is the boundary for uploaded bytes: whatever fails in here (Pillow's parsers, EXIF,
    colour conversion) ends as an `ImageError`. The size is checked from the header before
    any pixel is decoded.
    """
    if not data:
        raise ImageError(_("The file is empty (0 bytes)."))
    if len(data) > max_bytes:
        raise ImageError(_("The file is {size:.0f} MB; the limit is {limit:.0f} MB.").format(
            size=len(data) / 2**20, limit=max_bytes / 2**20))
    try:
        return _decode(data, max_pixels)
    except ImageError:
        raise
    except UnidentifiedImageError:
        known = picture_format(data)
        if known is not None:  # a format Pillow knows, but not one of ours
            raise ImageError(_("{format} files are not accepted; use JPEG, PNG, WebP, BMP, GIF or TIFF.").format(
                format=known)) from None
        raise ImageError(_("This file is not an image that Pillow can read (JPEG, PNG, WebP, BMP, GIF, TIFF, …).")) from None
    except Image.DecompressionBombError:
        raise ImageError(_("The image is too large to decode safely (over {limit:.0f} megapixels).").format(
            limit=max_pixels / 1e6)) from None
    except Exception as error:  # truncated data, broken EXIF, a codec's own error, ...
        text = " ".join(str(error).split())[:200] or type(error).__name__
        raise ImageError(_("The image file is damaged or truncated and cannot be decoded ({reason}).").format(
            reason=text)) from None


def _decode(data: bytes, max_pixels: int) -> DecodedImage:
    image = Image.open(io.BytesIO(data), formats=FORMATS)
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(_(
            "The image declares {width}×{height} pixels ({megapixels:.0f} megapixels); the limit "
            "is {limit:.0f} megapixels. Resize it first."
        ).format(width=width, height=height, megapixels=width * height / 1e6, limit=max_pixels / 1e6))
    if max(width, height) > MAX_ASPECT * max(min(width, height), 1):
        raise ImageError(_(
            "The image is {width}×{height} pixels: its long side is over {ratio} times its short side. "
            "Crop it to the part that matters first."
        ).format(width=width, height=height, ratio=MAX_ASPECT))
    frames = getattr(image, "n_frames", 1)
    image.seek(0)
    image.load()
    orientation = image.getexif().get(0x0112, 1)  # EXIF Orientation; 1 = as stored
    rgb = _to_rgb(ImageOps.exif_transpose(image))
    return DecodedImage(image=rgb, format=image.format or "unknown", mode=image.mode, size=rgb.size, frames=frames,
                        rotated=orientation not in (0, 1))


def image_digest(image: Image.Image) -> str:
    """A fingerprint of a picture's pixels (SHA-1 of mode, size and bytes), for a session's memo keys."""
    digest = hashlib.sha1(f"{image.mode} {image.size}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def sample_images() -> dict[str, Path]:
    """The shipped sample photographs by name (see assets/samples/LICENSES.md)."""
    return {p.stem: p for p in sorted(SAMPLES_DIR.iterdir()) if p.suffix.lower() in (".jpg", ".png")}


@dataclass(frozen=True)
class Preprocessing:
    """Evaluation preprocessing parameters (torchvision's ImageClassification preset)."""

    resize: int = 256
    crop: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @classmethod
    def for_size(cls, size: int) -> Preprocessing:
        """Crop ``size`` px after resizing with ImageNet's 256/224 margin (224 -> 256, 32 -> 37)."""
        return cls(resize=round(size * 256 / 224), crop=size)

    @classmethod
    def from_weights(cls, weights) -> Preprocessing:
        """The exact parameters of ``weights.transforms()`` (V2 weights resize to 232)."""
        preset = weights.transforms()
        return cls(resize=int(preset.resize_size[0]), crop=int(preset.crop_size[0]),
                   mean=tuple(preset.mean), std=tuple(preset.std))


@dataclass(frozen=True)
class PreprocessSteps:
    """Each step of evaluation preprocessing, as pictures and the final tensor."""

    original: Image.Image
    resized: Image.Image
    cropped: Image.Image
    tensor: torch.Tensor  # (3, crop, crop), normalized
    channel_mean: tuple[float, ...]  # of the normalized tensor, per channel
    channel_std: tuple[float, ...]


def preprocess(image: Image.Image, settings: Preprocessing = Preprocessing()) -> PreprocessSteps:
    """Resize the short side, center-crop, normalize: what the model really sees.

    Raises `ImageError` when the resized picture would exceed `MAX_PIXELS` (a large input size
    on a long picture), before resizing.
    """
    width, height = image.size
    scale = settings.resize / max(min(width, height), 1)
    if width * scale * height * scale > MAX_PIXELS:
        raise ImageError(_(
            "Resizing this {width}×{height} picture to {resize} px on its short side would make it "
            "{megapixels:.0f} megapixels; the limit is {limit:.0f}. Use a smaller input size or crop the picture."
        ).format(width=width, height=height, resize=settings.resize, megapixels=width * scale * height * scale / 1e6,
                 limit=MAX_PIXELS / 1e6))
    resized = TF.resize(image, [settings.resize], interpolation=InterpolationMode.BILINEAR, antialias=True)
    cropped = TF.center_crop(resized, [settings.crop])
    tensor = TF.normalize(TF.to_dtype(TF.to_image(cropped), torch.float32, scale=True), settings.mean, settings.std)
    return PreprocessSteps(
        original=image, resized=resized, cropped=cropped, tensor=tensor,  # tensor: (3, crop, crop)
        channel_mean=tuple(tensor.mean(dim=(1, 2)).tolist()), channel_std=tuple(tensor.std(dim=(1, 2)).tolist()),
    )


def denormalize(tensor: torch.Tensor, settings: Preprocessing = Preprocessing()) -> Image.Image:
    """The normalized tensor shown as a picture again (values clipped to [0, 1])."""
    mean = torch.tensor(settings.mean).view(3, 1, 1)
    std = torch.tensor(settings.std).view(3, 1, 1)
    return TF.to_pil_image((tensor * std + mean).clamp(0, 1))


def augmentation_samples(image: Image.Image, count: int, seed: int, policy: str = "none", crop: int = 224) -> list[Image.Image]:
    """Random training views: RandomResizedCrop + horizontal flip (+ a policy), as in
    torchvision's ClassificationPresetTrain. A seed makes a grid reproducible."""
    if policy not in AUGMENT_POLICIES:
        raise ValueError(_("Unknown augmentation policy {policy!r}; choose one of {choices}.").format(
            policy=policy, choices=", ".join(AUGMENT_POLICIES)))
    steps: list[torch.nn.Module] = [v2.RandomResizedCrop(crop, antialias=True), v2.RandomHorizontalFlip()]
    if policy == "AutoAugment":
        steps.append(v2.AutoAugment(v2.AutoAugmentPolicy.IMAGENET))
    elif policy == "RandAugment":
        steps.append(v2.RandAugment())
    elif policy == "TrivialAugmentWide":
        steps.append(v2.TrivialAugmentWide())
    elif policy == "AugMix":
        steps.append(v2.AugMix())
    pipeline = v2.Compose(steps)
    with private_rng(seed):  # torchvision's transforms draw from torch's RNG: give them this thread's own
        return [pipeline(image) for _ in range(count)]

