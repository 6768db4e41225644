"""What an image file carries besides its pixels, read from its bytes without decoding them:
PNG text chunks, EXIF, XMP, JPEG comments, and whether a C2PA manifest store is embedded.

Walks PNG chunks, JPEG segments (up to the first scan) and WebP RIFF chunks itself, so that a
hostile file cannot make Pillow refuse the whole image: a text chunk over ``MAX_TEXT`` bytes is
skipped with a note (and ``strip_oversized_png_text`` removes it before Pillow sees the file),
compressed text is inflated to at most ``MAX_TEXT`` bytes, values are cut to ``MAX_VALUE``
characters. Nothing here raises on bad input: problems become ``notes``.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

MAX_TEXT = 1 << 20     # bytes of one text chunk / XMP packet read; larger ones are skipped
MAX_VALUE = 4000       # characters kept of one value (the evidence quotes, it does not archive)
MAX_C2PA = 16 << 20    # bytes of an embedded manifest store validated; a larger one is only noted
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
XMP_JPEG_PREFIX = b"http://ns.adobe.com/xap/1.0/\x00"
PNG_TEXT_TYPES = (b"tEXt", b"zTXt", b"iTXt")


@dataclass
class Container:
    """The metadata blocks of one file. ``text``: (where, key, value) triples."""

    format: str = "unknown"
    text: list[tuple[str, str, str]] = field(default_factory=list)
    exif: bytes | None = None          # a TIFF structure (byte-order mark first)
    xmp: str | None = None
    c2pa: bool = False                 # a C2PA / JUMBF manifest store is embedded
    c2pa_bytes: int = 0                # its size (the sum of its segments / chunks)
    notes: list[str] = field(default_factory=list)


def cut(value: str) -> str:
    return value if len(value) <= MAX_VALUE else value[:MAX_VALUE] + f"... ({len(value):,} characters)"


def read_container(data: bytes) -> Container:
    """The metadata blocks of an image file's bytes (PNG, JPEG, WebP; other formats: none)."""
    try:
        if data.startswith(PNG_SIGNATURE):
            return _png(data)
        if data.startswith(b"\xff\xd8"):
            return _jpeg(data)
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp(data)
    except Exception as exc:  # a walker bug must not cost the analysis
        return Container(notes=[f"metadata could not be read: {type(exc).__name__}: {exc}"])
    return Container()


def png_chunks(data: bytes):
    """(type, start of data, length) of each PNG chunk; stops at IEND or at a truncated chunk."""
    pos = len(PNG_SIGNATURE)
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        yield kind, pos + 8, length
        if kind == b"IEND":
            return
        pos += 12 + length


def strip_oversized_png_text(data: bytes) -> tuple[bytes, bool]:
    """The PNG without its text chunks over ``MAX_TEXT`` bytes (Pillow refuses a file whose text
    exceeds its memory limit, and with it the pixels), and whether any was removed (``_png``
    notes each one when the file's metadata is read)."""
    if not data.startswith(PNG_SIGNATURE):
        return data, False
    keep, removed, pos = [data[:len(PNG_SIGNATURE)]], False, len(PNG_SIGNATURE)
    for kind, start, length in png_chunks(data):
        end = min(start + length + 4, len(data))
        if kind in PNG_TEXT_TYPES and length > MAX_TEXT:
            removed = True
        else:
            keep.append(data[start - 8:end])
        pos = end
    keep.append(data[pos:])
    return (b"".join(keep), True) if removed else (data, False)


def _png(data: bytes) -> Container:
    c = Container(format="PNG")
    for kind, start, length in png_chunks(data):
        body = data[start:start + length]
        if kind in PNG_TEXT_TYPES:
            if length > MAX_TEXT:
                key = body[:80].split(b"\x00", 1)[0].decode("latin-1", "replace")
                c.notes.append(f"PNG {kind.decode()} chunk {key!r} of {length:,} bytes skipped (over {MAX_TEXT:,})")
                continue
            parsed = _png_text(kind, body, c.notes)
            if parsed is None:
                continue
            key, value = parsed
            if key == "XML:com.adobe.xmp":
                c.xmp = value
            else:
                c.text.append((f"PNG {kind.decode()}", key, cut(value)))
        elif kind == b"eXIf":
            c.exif = body
        elif kind == b"caBX":
            c.c2pa, c.c2pa_bytes = True, c.c2pa_bytes + length
    return c


def _inflate(blob: bytes, notes: list[str], what: str) -> bytes | None:
    d = zlib.decompressobj()
    try:
        out = d.decompress(blob, MAX_TEXT)
    except zlib.error as exc:
        notes.append(f"{what}: compressed text is corrupt ({exc})")
        return None
    if d.unconsumed_tail:
        notes.append(f"{what}: compressed text inflates past {MAX_TEXT:,} bytes; kept the first {MAX_TEXT:,}")
    return out


def _png_text(kind: bytes, body: bytes, notes: list[str]) -> tuple[str, str] | None:
    key, sep, rest = body.partition(b"\x00")
    name = key.decode("latin-1", "replace")
    if not sep:
        notes.append(f"PNG {kind.decode()} chunk without a keyword separator")
        return None
    if kind == b"tEXt":
        return name, rest.decode("latin-1", "replace")
    if kind == b"zTXt":
        text = _inflate(rest[1:], notes, f"PNG zTXt {name!r}")
        return None if text is None else (name, text.decode("latin-1", "replace"))
    if len(rest) < 2:  # iTXt: compression flag, method, language\0, translated keyword\0, text
        notes.append(f"PNG iTXt {name!r} is truncated")
        return None
    compressed, tail = rest[0], rest[2:]
    _, _, tail = tail.partition(b"\x00")
    _, _, text = tail.partition(b"\x00")
    if compressed:
        text = _inflate(text, notes, f"PNG iTXt {name!r}")
        if text is None:
            return None
    return name, text.decode("utf-8", "replace")


def _jpeg(data: bytes) -> Container:
    c = Container(format="JPEG")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            c.notes.append(f"JPEG segment structure broken at byte {pos:,}")
            break
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end of image: metadata comes before
            break
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        body = data[pos + 4:pos + 2 + length]
        if marker == 0xE1 and body.startswith(b"Exif\x00\x00"):
            c.exif = c.exif or body[6:]
        elif marker == 0xE1 and body.startswith(XMP_JPEG_PREFIX):
            c.xmp = _xmp_text(body[len(XMP_JPEG_PREFIX):], c.notes)
        elif marker == 0xEB and body[:2] == b"JP":  # APP11: JUMBF boxes (C2PA), possibly in many segments
            c.c2pa = c.c2pa or b"c2pa" in body[:64]
            c.c2pa_bytes += len(body)
        elif marker == 0xFE:
            c.text.append(("JPEG comment", "comment", cut(body.decode("utf-8", "replace"))))
        pos += 2 + length
    return c


def _xmp_text(blob: bytes, notes: list[str]) -> str | None:
    if len(blob) > MAX_TEXT:
        notes.append(f"XMP packet of {len(blob):,} bytes skipped (over {MAX_TEXT:,})")
        return None
    return blob.decode("utf-8", "replace")


def _webp(data: bytes) -> Container:
    c = Container(format="WEBP")
    pos = 12
    while pos + 8 <= len(data):
        kind, length = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"EXIF":
            c.exif = body[6:] if body.startswith(b"Exif\x00\x00") else body
        elif kind == b"XMP ":
            c.xmp = _xmp_text(body, c.notes)
        elif kind == b"C2PA":
            c.c2pa, c.c2pa_bytes = True, c.c2pa_bytes + length
        pos += 8 + length + (length & 1)
    return c
