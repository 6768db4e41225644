"""EXIF and XMP blocks turned into (where, key, value) records that signatures can match.

EXIF is parsed by Pillow (a TIFF structure); only the fields that say who or what made the
image are kept. XMP is parsed as XML with the standard library (expat refuses entity
expansion bombs); a packet that is not XML becomes a note, never an error.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

from forenscope.provenance.containers import cut

# IFD0 and Exif-IFD tags that name the maker, the software or the scene
EXIF_TAGS = {0x010F: "Make", 0x0110: "Model", 0x0131: "Software", 0x010E: "ImageDescription",
             0x013B: "Artist", 0x8298: "Copyright", 0x9286: "UserComment", 0xA434: "LensModel",
             0xA433: "LensMake", 0x829A: "ExposureTime", 0x829D: "FNumber", 0x8827: "ISOSpeedRatings",
             0x9003: "DateTimeOriginal", 0x920A: "FocalLength", 0xA420: "ImageUniqueID"}
EXIF_IFD = 0x8769
# XMP properties (local names) worth quoting; any value that names a digital source type is
# kept whatever its property
XMP_NAMES = {"DigitalSourceType", "CreatorTool", "softwareAgent", "action", "History", "description",
             "Credit", "AISystemUsed", "AIPromptInformation", "Make", "Model", "Software", "Lens"}


def exif_records(tiff: bytes, notes: list[str]) -> tuple[list[tuple[str, str, str]], dict]:
    """(records, thumbnail info) of an EXIF TIFF block. Thumbnail: {"jpeg": bytes} when IFD1
    carries a JPEG thumbnail."""
    from PIL import Image

    exif = Image.Exif()
    try:
        exif.load(tiff)
        fields = dict(exif)
        fields.update(exif.get_ifd(EXIF_IFD))
    except Exception as exc:
        notes.append(f"EXIF could not be parsed: {type(exc).__name__}: {exc}")
        return [], {}
    records = []
    for tag, name in EXIF_TAGS.items():
        if tag in fields:
            records.append(("EXIF", name, cut(_text(fields[tag]))))
    return records, _thumbnail(exif, tiff)


def _text(value) -> str:
    if isinstance(value, bytes):  # UserComment: an 8-byte character-code prefix, then the text
        head, body = value[:8], value[8:]
        if head.startswith(b"UNICODE"):
            return body.decode("utf-16-be" if body[:1] == b"\x00" else "utf-16-le", "replace").strip("\x00 ")
        if head.startswith((b"ASCII", b"\x00" * 8)):
            return body.decode("utf-8", "replace").strip("\x00 ")
        return value.decode("utf-8", "replace").strip("\x00 ")
    return str(value).strip("\x00 ")


def _thumbnail(exif, tiff: bytes) -> dict:
    try:
        from PIL import ExifTags

        ifd1 = exif.get_ifd(ExifTags.IFD.IFD1)
    except Exception:
        return {}
    offset, length = ifd1.get(0x0201), ifd1.get(0x0202)
    if not isinstance(offset, int) or not isinstance(length, int) or length <= 0 or offset + length > len(tiff):
        return {}
    return {"jpeg": tiff[offset:offset + length]}


def xmp_records(xmp: str, notes: list[str]) -> list[tuple[str, str, str]]:
    """Records of the XMP properties in ``XMP_NAMES`` (element text and attributes alike)."""
    start = xmp.find("<x:xmpmeta")
    start = start if start >= 0 else xmp.find("<rdf:RDF")
    body = xmp[start:] if start >= 0 else xmp
    end = body.rfind(">")
    body = body[:end + 1] if end >= 0 else body
    try:
        root = ET.parse(io.StringIO(body)).getroot()
    except ET.ParseError as exc:
        notes.append(f"XMP is not well-formed XML ({exc}); its text was not read")
        return []
    records = []
    for el in root.iter():
        name = _local(el.tag)
        text = (el.text or "").strip()
        if text and (name in XMP_NAMES or "digitalsourcetype" in text.lower()):
            records.append(("XMP", name, cut(text)))
        for attr, value in el.attrib.items():
            if _local(attr) in XMP_NAMES or "digitalsourcetype" in value.lower():
                records.append(("XMP", _local(attr), cut(value)))
    return records


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].rsplit(":", 1)[-1]
