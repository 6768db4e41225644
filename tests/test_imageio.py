import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from conftest import encode, textured
from forenscope.imageio import ImageError, decode_image, estimate_jpeg_quality, read_image, read_truth_mask, as_rgb_uint8


@pytest.mark.parametrize("fmt,kw", [("PNG", {}), ("BMP", {}), ("TIFF", {}), ("WEBP", {"lossless": True}),
                                    ("JPEG", {"quality": 95}), ("GIF", {})])
def test_every_format_decodes_to_rgb_uint8(tmp_path, fmt, kw):
    rgb = textured(40, 56)
    src = Image.fromarray(rgb).quantize(64).convert("RGB") if fmt == "GIF" else Image.fromarray(rgb)
    path = tmp_path / f"x.{fmt.lower()}"
    src.save(path, fmt, **kw)
    pixels, meta = read_image(path)
    assert pixels.dtype == np.uint8 and pixels.shape == (40, 56, 3)
    assert meta.format == fmt and (meta.width, meta.height) == (56, 40)
    if fmt != "JPEG":  # lossless formats give back exactly what was saved
        assert np.array_equal(pixels, np.asarray(src))


def test_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    pixels, meta = read_image(tmp_path / "a.gif")
    assert meta.n_frames == 2 and tuple(pixels[0, 0]) == (255, 0, 0)


def test_exif_orientation_is_applied(tmp_path):
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)  # red at top-left of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90 degrees clockwise
    Image.fromarray(rgb).save(tmp_path / "r.png", exif=exif)
    pixels, meta = read_image(tmp_path / "r.png")
    assert meta.exif_orientation == 6 and pixels.shape == (30, 20, 3)
    assert (meta.width, meta.height) == (20, 30)
    assert tuple(pixels[0, -1]) == (255, 0, 0)  # top-left went to top-right


@pytest.mark.parametrize("mode", ["1", "L", "P", "CMYK", "RGB"])
def test_modes_convert_like_pillow(mode):
    src = Image.fromarray(textured(16, 16)).convert(mode)
    pixels, meta = decode_image(encode_lossless(src))
    assert meta.mode == mode and pixels.dtype == np.uint8
    assert np.array_equal(pixels, np.asarray(src.convert("RGB")))


def encode_lossless(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "TIFF" if im.mode == "CMYK" else "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["RGBA", "LA"])
def test_alpha_is_composited_on_white(mode):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :2, 3] = 0      # left half transparent -> white
    rgba[:, 2:, 3] = 255    # right half opaque -> its colour
    im = Image.fromarray(rgba, "RGBA") if mode == "RGBA" else Image.fromarray(rgba, "RGBA").convert(mode)
    pixels, _ = decode_image(encode_lossless(im))
    assert (pixels[:, :2] == 255).all()
    expected = np.asarray(Image.fromarray(rgba, "RGBA").convert(mode).convert("RGB"))[:, 2:]
    assert np.array_equal(pixels[:, 2:], expected)


def test_palette_with_transparency_on_white():
    im = Image.new("P", (4, 4), 1)
    im.putpalette([0, 0, 0, 10, 20, 30] + [0] * 762)
    im.info["transparency"] = 1
    pixels, _ = decode_image(encode_lossless(im))
    assert (pixels == 255).all()


def test_sixteen_bit_and_float_scale_to_eight_bit():
    arr16 = np.array([[0, 65535], [257 * 100, 257 * 200]], dtype=np.uint16)
    pixels, meta = decode_image(encode_lossless(Image.fromarray(arr16)))
    assert meta.mode.startswith("I") and pixels[..., 0].tolist() == [[0, 255], [100, 200]]
    f = Image.fromarray(np.array([[0.0, 1.0], [0.5, 0.25]], dtype=np.float32), "F")
    buf = io.BytesIO()
    f.save(buf, "TIFF")
    pixels, meta = decode_image(buf.getvalue())
    assert meta.mode == "F" and pixels[..., 0].tolist() == [[0, 255], [128, 64]]


@pytest.mark.parametrize("q", [30, 50, 75, 90, 95])
def test_jpeg_quantisation_and_quality_estimate(q):
    _, meta = decode_image(encode(textured(32, 32), "JPEG", quality=q))
    assert meta.jpeg_quality == q and meta.jpeg_quality_exact
    assert len(meta.jpeg_quantization[0]) == 64 and meta.jpeg_subsampling == "4:2:0"


def test_custom_jpeg_tables_give_nearest_quality():
    from forenscope.imageio import _ijg_tables
    luma, chroma = _ijg_tables(80)
    tables = {0: list(luma + 1), 1: list(chroma)}  # perturbed: no exact IJG match
    q, exact = estimate_jpeg_quality(tables)
    assert not exact and 75 <= q <= 80


# ---------------------------------------------------------------- bad input: one-line ImageError

def _assert_one_line_error(exc_info, path, fragment):
    msg = str(exc_info.value)
    assert "\n" not in msg and str(path) in msg and fragment in msg.lower()


def test_zero_byte_file(tmp_path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(ImageError) as e:
        read_image(p)
    _assert_one_line_error(e, p, "empty")


def test_truncated_jpeg(tmp_path):
    p = tmp_path / "trunc.jpg"
    p.write_bytes(encode(textured(64, 64), "JPEG", quality=90)[:400])
    with pytest.raises(ImageError) as e:
        read_image(p)
    _assert_one_line_error(e, p, "truncated")


def test_corrupt_png_data(tmp_path):
    data = bytearray(encode(textured(64, 64), "PNG"))
    data[60:200] = b"\x00" * 140  # wreck the compressed stream, keep the header
    p = tmp_path / "bad.png"
    p.write_bytes(bytes(data))
    with pytest.raises(ImageError) as e:
        read_image(p)
    _assert_one_line_error(e, p, "corrupt")


def test_text_file_named_jpg_is_not_an_image(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("hello, this is not a photo\n")
    with pytest.raises(ImageError) as e:
        read_image(p)
    _assert_one_line_error(e, p, "not a recognised image")


def test_wrong_extension_decodes_by_content_and_is_flagged(tmp_path):
    p = tmp_path / "really_a_png.jpg"
    p.write_bytes(encode(textured(8, 8), "PNG"))
    pixels, meta = read_image(p)
    assert meta.format == "PNG" and meta.extension_mismatch and pixels.shape == (8, 8, 3)
    q = tmp_path / "honest.png"
    q.write_bytes(encode(textured(8, 8), "PNG"))
    assert read_image(q)[1].extension_mismatch is False


def test_directory_and_missing_file(tmp_path):
    with pytest.raises(ImageError) as e:
        read_image(tmp_path)
    _assert_one_line_error(e, tmp_path, "directory")
    with pytest.raises(ImageError) as e:
        read_image(tmp_path / "nope.png")
    _assert_one_line_error(e, tmp_path / "nope.png", "no such file")


def test_unreadable_file(tmp_path, monkeypatch):
    p = tmp_path / "secret.png"
    p.write_bytes(encode(textured(8, 8), "PNG"))

    def deny(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("builtins.open", deny)  # root ignores chmod, so simulate the OS refusal
    with pytest.raises(ImageError) as e:
        read_image(p)
    _assert_one_line_error(e, p, "permission denied")


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims a size but carries almost no data: a decompression-bomb stand-in."""
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + chunk(b"IEND", b"")


def test_pixel_limit_refuses_before_decoding():
    bomb = _png_header_only(50_000, 50_000)  # 2.5 gigapixels claimed, 60 bytes of file
    with pytest.raises(ImageError) as e:
        decode_image(bomb, source="bomb.png")
    assert "too many pixels" in str(e.value) and "50000x50000" in str(e.value)
    with pytest.raises(ImageError, match="too many pixels"):
        decode_image(encode(textured(32, 32), "PNG"), max_pixels=1000)
    assert decode_image(encode(textured(32, 32), "PNG"), max_pixels=1024)[0].shape == (32, 32, 3)


def test_file_size_limit(tmp_path):
    p = tmp_path / "big.png"
    p.write_bytes(encode(textured(64, 64), "PNG"))
    with pytest.raises(ImageError, match="file too large"):
        read_image(p, max_bytes=100)


def test_metadata_has_hash_and_size(tmp_path):
    data = encode(textured(10, 12), "PNG")
    _, meta = decode_image(data)
    import hashlib
    assert meta.sha256 == hashlib.sha256(data).hexdigest() and meta.file_size == len(data)


def test_arrays_are_validated():
    assert as_rgb_uint8(np.zeros((4, 5))).shape == (4, 5, 3)
    assert as_rgb_uint8(np.ones((4, 5, 3), np.float32)).max() == 255
    with pytest.raises(ImageError, match="shape"):
        as_rgb_uint8(np.zeros((4, 5, 2)))
    with pytest.raises(ImageError, match="NaN"):
        as_rgb_uint8(np.full((4, 5, 3), np.nan))


def test_truth_mask_is_any_channel_above_127(tmp_path):
    """White marks the manipulated region; a coloured or grey-level mask counts where any
    channel passes 127, and a grey-scale PNG reads the same as its RGB copy."""
    m = np.zeros((8, 10, 3), np.uint8)
    m[1:3, 2:5] = 255
    m[5, 7] = (200, 0, 0)
    m[6, 1] = (127, 127, 127)  # at the limit: not manipulated
    Image.fromarray(m).save(tmp_path / "rgb.png")
    Image.fromarray(m.max(axis=2)).save(tmp_path / "grey.png")
    want = np.zeros((8, 10), bool)
    want[1:3, 2:5] = True
    want[5, 7] = True
    for name in ("rgb.png", "grey.png"):
        got = read_truth_mask(tmp_path / name)
        assert got.dtype == bool and np.array_equal(got, want), name
    with pytest.raises(ImageError):
        read_truth_mask(tmp_path / "missing.png")
