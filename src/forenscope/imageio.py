"""The only door for pixels: safe decoding, limits, EXIF orientation, any mode -> RGB uint8.

Every image forenscope analyses comes through :func:`read_image` (a path) or
:func:`decode_image` (bytes already in memory). Both return the pixels as an
``H x W x 3`` ``uint8`` array, after the EXIF orientation is applied, and an
:class:`ImageMeta` with what the file says about itself.

Conversions to RGB (documented because they change pixels):

* ``1``, ``L``, ``P`` without transparency, ``YCbCr``, ``CMYK``, ``LAB``, ``HSV``: Pillow's own
  conversion (CMYK is converted naively, without an ICC profile).
* Any mode with alpha (``LA``, ``PA``, ``RGBA``, ``P`` with a transparency entry): composited
  onto **white**, as a viewer shows it on a page.
* ``I;16*`` and ``I`` (16/32-bit integers): read as 16-bit samples, scaled by 255/65535.
* ``F`` (32-bit float): taken as [0, 1] when its maximum is at most 1, else as [0, 255]; clipped.

The format is sniffed from the content, never trusted from the file name: a PNG named
``.jpg`` decodes (``meta.extension_mismatch`` is then True); a text file named ``.jpg`` is an
:class:`ImageError`.

Limits (refused before any pixel is decoded): ``max_pixels`` (default 100 MP) and
``max_bytes`` (default 512 MiB). forenscope enforces its own pixel limit, so Pillow's global
decompression-bomb limit is lifted when this module is imported.
"""

from __future__ import annotations

import hashlib
import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from forenscope.provenance.containers import strip_oversized_png_text

# imageio checks width x height against max_pixels before decoding, with a clearer message
# and a configurable limit; Pillow's fixed global limit would pre-empt it.
Image.MAX_IMAGE_PIXELS = None

DEFAULT_MAX_PIXELS = 100_000_000
DEFAULT_MAX_BYTES = 512 * 1024 * 1024

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif"}
)
_EXTENSION_FORMATS = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".png": "PNG", ".bmp": "BMP",
    ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP", ".gif": "GIF",
}
SUPPORTED_FORMATS = frozenset(_EXTENSION_FORMATS.values()) | {"MPO"}


class ImageError(ValueError):
    """An input that cannot be analysed. ``str(err)`` is one line: ``<source>: <reason>``.
    ``kind``: ``"limit"`` (too many bytes or pixels), ``"format"`` (not an image, or a format
    forenscope does not read) or ``"invalid"`` (corrupt, truncated, anything else)."""

    def __init__(self, source: str | os.PathLike, reason: str, kind: str = "invalid"):
        self.source = str(source)
        self.reason = " ".join(str(reason).split())  # one line, always
        self.kind = kind
        super().__init__(f"{self.source}: {self.reason}")


@dataclass
class ImageMeta:
    """What the file says about itself. Sizes are after EXIF orientation."""

    source: str
    format: str
    mode: str
    width: int
    height: int
    file_size: int
    sha256: str
    exif_orientation: int | None = None
    has_exif: bool = False
    extension_mismatch: bool = False
    n_frames: int = 1
    jpeg_quantization: dict[int, list[int]] | None = None  # table id -> 64 values, natural order
    jpeg_quality: int | None = None  # IJG-scale estimate from the luminance (and chroma) tables
    jpeg_quality_exact: bool | None = None  # tables equal the IJG tables at that quality
    jpeg_subsampling: str | None = None
    extras: dict = field(default_factory=dict)
    # what the file says about where it came from (forenscope.provenance.evidence): evidence
    # items, metadata records, notes on what could not be read
    provenance: dict | None = None

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        if self.jpeg_quantization is not None:
            d["jpeg_quantization"] = {str(k): v for k, v in self.jpeg_quantization.items()}
        return d


def read_image(
    path: str | os.PathLike,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[np.ndarray, ImageMeta]:
    """Read an image file into (RGB uint8 H x W x 3, metadata). Raises :class:`ImageError`."""
    path = Path(path)
    data = _read_file_bytes(path, max_bytes)
    pixels, meta = decode_image(data, source=str(path), max_pixels=max_pixels, max_bytes=max_bytes)
    expected = _EXTENSION_FORMATS.get(path.suffix.lower())
    meta.extension_mismatch = expected is not None and _canonical(meta.format) != expected
    return pixels, meta


def read_truth_mask(path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """A ground-truth mask file as a bool H x W array: True (manipulated) where any channel is
    above 127, the convention of every mask set here (white = manipulated). Raises :class:`ImageError`."""
    pixels, _ = read_image(path, max_pixels=max_pixels)
    return pixels.max(axis=2) > 127


def read_header(path: str | os.PathLike, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ImageMeta:
    """The metadata of an image file without decoding its pixels (sizes before EXIF
    orientation). Raises :class:`ImageError`."""
    path = Path(path)
    data = _read_file_bytes(path, max_bytes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            im = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise ImageError(path, f"not a recognised image ({_describe_bytes(data)})", "format") from None
        except Exception as exc:
            raise ImageError(path, f"corrupt image header: {exc}") from None
        try:
            return _metadata(im, data, str(path))
        except Exception as exc:
            raise ImageError(path, f"corrupt image metadata: {exc}") from None


def decode_image(
    data: bytes,
    *,
    source: str = "<bytes>",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[np.ndarray, ImageMeta]:
    """Decode image bytes (format sniffed from content). Raises :class:`ImageError`."""
    if len(data) == 0:
        raise ImageError(source, "empty file (0 bytes)")
    if len(data) > max_bytes:
        raise ImageError(source, f"file too large: {len(data):,} bytes > limit {max_bytes:,}", "limit")
    original = data
    # Pillow refuses a PNG whose text chunks exceed its memory limit, pixels and all: such
    # chunks are dropped here (the provenance reader notes each in meta.provenance["notes"])
    data, stripped = strip_oversized_png_text(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about odd EXIF/ICC chunks; we report errors
        try:
            im = Image.open(io.BytesIO(data))
        except UnidentifiedImageError:
            raise ImageError(source, f"not a recognised image ({_describe_bytes(data)})", "format") from None
        except Exception as exc:  # header parse failures of every kind
            raise ImageError(source, f"corrupt image header: {exc}") from None
        fmt = im.format or "unknown"
        if fmt not in SUPPORTED_FORMATS:
            raise ImageError(source, f"unsupported format {fmt}", "format")
        width, height = im.size
        if width <= 0 or height <= 0:
            raise ImageError(source, f"invalid size {width}x{height}")
        if width * height > max_pixels:
            raise ImageError(
                source,
                f"too many pixels: {width}x{height} = {width * height:,} > limit {max_pixels:,} "
                "(possible decompression bomb; raise max_pixels to allow it)",
                "limit",
            )
        try:
            meta = _metadata(im, data, source)  # PNG: reading EXIF may decode the data
            im.seek(0)  # GIF / multi-page TIFF: first frame
            im.load()
            oriented = ImageOps.exif_transpose(im)
        except Exception as exc:
            raise ImageError(source, f"truncated or corrupt image data: {exc}") from None
        pixels = to_rgb_array(oriented)
    meta.height, meta.width = pixels.shape[:2]
    if stripped:  # describe the file as it is, not the copy Pillow read
        meta.file_size, meta.sha256 = len(original), hashlib.sha256(original).hexdigest()
    meta.provenance = file_provenance(original, pixels, meta)
    return pixels, meta


def file_provenance(data: bytes, pixels: np.ndarray, meta: ImageMeta) -> dict:
    """The file's provenance evidence (metadata signatures, camera fields, C2PA, thumbnail,
    quantisation tables); a failure to read it is a note, never a lost image."""
    from forenscope.provenance.evidence import jpeg_table_items, read_file_evidence, thumbnail_items

    try:
        found = read_file_evidence(data)
        thumbnail = found.pop("_thumbnail", None)
        if thumbnail:
            found["items"] += thumbnail_items(thumbnail, pixels)
        found["items"] += jpeg_table_items(meta)
    except Exception as exc:  # evidence is optional; the pixels are not
        found = {"items": [], "records": [], "notes": [f"provenance not read: {type(exc).__name__}: {exc}"]}
    return found


def to_rgb_array(im: Image.Image) -> np.ndarray:
    """Any Pillow image -> contiguous RGB uint8 array (alpha composited on white)."""
    mode = im.mode
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
    elif mode == "PA":
        im = im.convert("RGBA")
    elif mode in ("I", "F") or mode.startswith("I;16"):
        return _high_depth_to_rgb(im)
    if im.mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
        alpha = rgba[..., 3:4] / 255.0
        rgb = rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)
        return np.ascontiguousarray(np.clip(np.rint(rgb), 0, 255).astype(np.uint8))
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))


def as_rgb_uint8(array: np.ndarray, source: str = "<array>") -> np.ndarray:
    """Validate an in-memory image: H x W (grey), H x W x 1/3/4 -> RGB uint8 (alpha on white)."""
    a = np.asarray(array)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in (1, 3, 4) or a.shape[0] < 1 or a.shape[1] < 1:
        raise ImageError(source, f"expected an H x W or H x W x 1/3/4 array, got shape {a.shape}")
    if a.dtype != np.uint8:
        if np.issubdtype(a.dtype, np.floating):
            if not np.isfinite(a).all():
                raise ImageError(source, "array contains NaN or infinity")
            scale = 255.0 if a.max(initial=0.0) <= 1.0 else 1.0
            a = np.clip(np.rint(a * scale), 0, 255).astype(np.uint8)
        elif np.issubdtype(a.dtype, np.integer) or a.dtype == bool:
            a = np.clip(a, 0, 255).astype(np.uint8)
        else:
            raise ImageError(source, f"unsupported array dtype {a.dtype}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
    elif a.shape[2] == 4:
        alpha = a[..., 3:4].astype(np.float32) / 255.0
        a = np.rint(a[..., :3] * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    return np.ascontiguousarray(a)


def estimate_jpeg_quality(tables: dict[int, list[int]]) -> tuple[int, bool]:
    """The IJG quality (1-100) whose scaled standard tables are closest to ``tables``.

    Returns (quality, exact): ``exact`` is True when the tables equal the IJG tables at that
    quality, as libjpeg/Pillow/most editors write them. Camera tables are custom; then the
    estimate is the nearest IJG quality in mean absolute difference.
    """
    ids = sorted(tables)[:2]
    observed = [np.asarray(tables[i], dtype=np.float64) for i in ids]
    best_q, best_err = 50, np.inf
    for q in range(1, 101):
        ref = _ijg_tables(q)
        err = sum(np.abs(obs - ref[k]).mean() for k, obs in enumerate(observed))
        if err < best_err:
            best_q, best_err = q, err
    return best_q, bool(best_err == 0)


# --------------------------------------------------------------------------------------------

_IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
], dtype=np.float64)
_IJG_CHROMA = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
] + [99] * 32, dtype=np.float64)


def _ijg_tables(quality: int) -> tuple[np.ndarray, np.ndarray]:
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality  # integer, as libjpeg
    return tuple(np.clip(np.floor((t * scale + 50) / 100), 1, 255) for t in (_IJG_LUMA, _IJG_CHROMA))


def _read_file_bytes(path: Path, max_bytes: int) -> bytes:
    try:
        if path.is_dir():
            raise ImageError(path, "is a directory, not an image file")
        if not path.exists():
            raise ImageError(path, "no such file")
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageError(path, f"file too large: {size:,} bytes > limit {max_bytes:,}", "limit")
        with open(path, "rb") as fh:
            return fh.read(max_bytes + 1)
    except ImageError:
        raise
    except PermissionError:
        raise ImageError(path, "permission denied (file is not readable)") from None
    except OSError as exc:
        raise ImageError(path, f"cannot read file: {exc.strerror or exc}") from None


def _metadata(im: Image.Image, data: bytes, source: str) -> ImageMeta:
    exif = im.getexif()
    orientation = exif.get(0x0112) if exif else None
    meta = ImageMeta(
        source=source,
        format=im.format,
        mode=im.mode,
        width=im.size[0],
        height=im.size[1],
        file_size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        exif_orientation=int(orientation) if isinstance(orientation, int) else None,
        has_exif=bool(exif),
        n_frames=int(getattr(im, "n_frames", 1)),
    )
    tables = getattr(im, "quantization", None)
    if im.format in ("JPEG", "MPO") and tables:
        meta.jpeg_quantization = {int(k): [int(v) for v in t] for k, t in tables.items()}
        meta.jpeg_quality, meta.jpeg_quality_exact = estimate_jpeg_quality(meta.jpeg_quantization)
        try:
            from PIL import JpegImagePlugin

            sub = JpegImagePlugin.get_sampling(im)
            meta.jpeg_subsampling = {0: "4:4:4", 1: "4:2:2", 2: "4:2:0"}.get(sub)
        except Exception:  # not critical metadata
            pass
    return meta


def _high_depth_to_rgb(im: Image.Image) -> np.ndarray:
    if im.mode == "F":
        a = np.asarray(im, dtype=np.float32)
        a = np.nan_to_num(a, nan=0.0, posinf=255.0, neginf=0.0)
        scale = 255.0 if a.max(initial=0.0) <= 1.0 else 1.0
        grey = np.clip(np.rint(a * scale), 0, 255)
    else:
        a = np.asarray(im).astype(np.float64)
        grey = np.clip(np.rint(a * (255.0 / 65535.0)), 0, 255)
    grey = grey.astype(np.uint8)
    return np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2))


def _canonical(fmt: str) -> str:
    return "JPEG" if fmt == "MPO" else fmt


def _describe_bytes(data: bytes) -> str:
    head = data[:64]
    if all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "looks like text"
    return f"starts with bytes {head[:8].hex(' ')}"
