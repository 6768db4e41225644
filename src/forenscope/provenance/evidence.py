"""Every piece of provenance evidence an image carries, as one list of items.

An item: {"source": "c2pa" | "metadata" | "watermark" | "camera" | "file", "claim":
"generated" | "tampered" | "edited" | "camera" | "none", "strength": "strong" | "weak" | "info",
"where": where it was read, "detail": what it says, "reference": what documents it}. Strong
items decide a verdict (a valid C2PA manifest declaring generated media, a known generator's
metadata, a decoded watermark); weak and info items are shown, never decisive. The absence of
evidence says nothing about an image.

Reading from bytes (``read_file_evidence``) happens once, where the file is decoded
(``imageio``), and keeps only this small summary; the watermark is read from the pixels by the
``provenance`` detector.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

import numpy as np

from forenscope.provenance.containers import MAX_C2PA, read_container
from forenscope.provenance.credentials import read_credentials, source_type_claim
from forenscope.provenance.fields import exif_records, xmp_records

STRENGTHS = ("strong", "weak", "info")


@lru_cache(maxsize=1)
def signatures() -> list[dict]:
    """The known metadata signatures (``signatures.json``), regular expressions compiled."""
    raw = json.loads((resources.files("forenscope.provenance") / "signatures.json").read_text(encoding="utf-8"))
    out = []
    for s in raw["signatures"]:
        out.append({**s, "key_re": re.compile(s["key"], re.I), "value_re": re.compile(s["value"], re.I | re.S)})
    return out


def read_file_evidence(data: bytes, trust_anchors: str | None = None) -> dict:
    """{"items": [...], "records": [...], "notes": [...]} of a file's bytes: its metadata
    records matched against the known signatures, camera fields, and its C2PA manifest."""
    c = read_container(data)
    records, notes = list(c.text), list(c.notes)
    thumb = {}
    if c.exif:
        exif, thumb = exif_records(c.exif, notes)
        records += exif
    if c.xmp:
        records += xmp_records(c.xmp, notes)
    items = match_signatures(records) + camera_items(records)
    if c.c2pa and c.c2pa_bytes > MAX_C2PA:
        notes.append(f"C2PA manifest store of {c.c2pa_bytes:,} bytes not validated (over {MAX_C2PA:,})")
    elif c.c2pa:
        items += c2pa_items(read_credentials(data, c.format, trust_anchors))
    out = {"items": items, "records": [{"where": w, "key": k, "value": v} for w, k, v in records], "notes": notes}
    if thumb:
        out["_thumbnail"] = thumb["jpeg"]  # compared with the pixels by the detector, then dropped
    return out


def match_signatures(records: list[tuple[str, str, str]]) -> list[dict]:
    items, seen = [], set()
    for where, key, value in records:
        for s in signatures():
            if s["where"] and not where.startswith(tuple(s["where"])):
                continue
            if not (s["key_re"].search(key) and s["value_re"].search(value)):
                continue
            if (s["id"], where, key) in seen:
                continue
            seen.add((s["id"], where, key))
            items.append({"source": "metadata", "claim": s["claim"], "strength": s["strength"],
                          "where": f"{where} '{key}'", "detail": f"{s['generator']}: {_quote(value)}",
                          "signature": s["id"], "reference": s["documented_by"]})
    return items


def camera_items(records: list[tuple[str, str, str]]) -> list[dict]:
    """One info item naming the camera when EXIF has a make or model (never decisive: EXIF is
    copied and forged as easily as it is written)."""
    exif = {k: v for w, k, v in records if w == "EXIF"}
    if not (exif.get("Make") or exif.get("Model")):
        return []
    parts = [exif.get(k) for k in ("Make", "Model", "LensModel") if exif.get(k)]
    shot = ", ".join(f"{k} {exif[k]}" for k in ("ExposureTime", "FNumber", "ISOSpeedRatings", "DateTimeOriginal") if exif.get(k))
    return [{"source": "camera", "claim": "camera", "strength": "info", "where": "EXIF Make / Model",
             "detail": " ".join(parts) + (f" ({shot})" if shot else ""), "reference": "EXIF 2.32 (CIPA DC-008)"}]


def c2pa_items(cr: dict) -> list[dict]:
    state = cr.get("state")
    if state in ("unavailable", "unreadable"):
        return [{"source": "c2pa", "claim": "none", "strength": "info", "where": "C2PA manifest store",
                 "detail": cr.get("note", state), "reference": "C2PA specification 2.x"}]
    valid = state in ("Valid", "Trusted")
    signer = "trusted signer" if cr.get("trusted") else "signer not in the trust list given" if valid else "invalid"
    summary = (f"manifest {state.lower()} ({signer}); signed by {cr.get('signer') or 'unknown'}; "
               f"claim generator {cr.get('claim_generator') or 'unknown'}")
    items = [{"source": "c2pa", "claim": "none", "strength": "info", "where": "C2PA active manifest",
              "detail": summary + (f"; failures: {', '.join(cr['failures'])}" if cr.get("failures") else ""),
              "manifest": {k: v for k, v in cr.items() if k != "failures"}, "reference": "C2PA specification 2.x"}]
    for uri in cr.get("digital_source_types", []):
        claim = source_type_claim(uri)
        if claim:
            # decisive only when the signature validates; a broken one is still worth showing
            items.append({"source": "c2pa", "claim": claim, "strength": "strong" if valid else "weak",
                          "where": "C2PA actions digitalSourceType", "detail": f"{uri} ({summary})",
                          "reference": "C2PA specification 2.x, actions assertion; IPTC Digital Source Type"})
    if cr.get("pixels_changed"):
        items.append({"source": "c2pa", "claim": "edited", "strength": "weak", "where": "C2PA hard binding",
                      "detail": "the file's bytes no longer match the signed hash: changed after signing "
                                "(an edit, or only a re-save)", "reference": "C2PA specification 2.x, data hash"})
    return items


def watermark_items(read: dict) -> list[dict]:
    best = read.get("best")
    if read["status"] == "match":
        return [{"source": "watermark", "claim": "generated", "strength": "strong",
                 "where": f"invisible DWT-DCT watermark (U channel, {best['order'].upper()} order)",
                 "detail": f"{best['payload']}: {best['agree']} of {best['bits']} bits agree (false-match "
                           f"probability {best['false_match_probability']:.1e})",
                 "reference": "invisible-watermark (imwatermark) dwtDct; payloads from the Stable Diffusion reference pipelines"}]
    return []


def thumbnail_items(thumbnail_jpeg: bytes, rgb: np.ndarray) -> list[dict]:
    """A weak "edited" item when the EXIF thumbnail shows another picture than the pixels."""
    import io

    from PIL import Image

    try:
        thumb = np.asarray(Image.open(io.BytesIO(thumbnail_jpeg)).convert("L"), np.float32)
    except Exception:
        return []
    if min(thumb.shape) < 8:
        return []
    h, w = rgb.shape[:2]
    if abs(thumb.shape[1] / thumb.shape[0] - w / h) > 0.05 * (w / h):
        # cameras pad thumbnails to 160x120; compare only when the shapes agree
        return []
    grey = np.asarray(Image.fromarray(rgb).convert("L").resize(thumb.shape[::-1], Image.BILINEAR), np.float32)
    a, b = grey - grey.mean(), thumb - thumb.mean()
    corr = float((a * b).sum() / (np.sqrt((a * a).sum() * (b * b).sum()) + 1e-6))
    if corr >= 0.8:
        return []
    return [{"source": "file", "claim": "edited", "strength": "weak", "where": "EXIF thumbnail",
             "detail": f"the embedded thumbnail differs from the image (correlation {corr:.2f}): the picture "
                       "changed after the thumbnail was written", "reference": "EXIF 2.32, IFD1 thumbnail"}]


def jpeg_table_items(meta) -> list[dict]:
    """Info: standard IJG quantisation tables mean a libjpeg-style encoder (editors, re-saves,
    most software) rather than a camera's own tables."""
    if getattr(meta, "jpeg_quality_exact", None) is None:
        return []
    if meta.jpeg_quality_exact:
        detail = f"standard IJG tables at quality {meta.jpeg_quality}: saved by software (libjpeg-style), not a camera's own tables"
    else:
        detail = f"non-standard tables (about quality {meta.jpeg_quality}): a camera's or a proprietary encoder's"
    return [{"source": "file", "claim": "none", "strength": "info", "where": "JPEG quantisation tables",
             "detail": detail, "reference": "ITU-T T.81 Annex K; IJG libjpeg jcparam.c"}]


def evidence_lines(found: dict) -> list[str]:
    """For people: one line per item of ``found["evidence"]`` ("strength claim: where: detail"),
    then its ``notes``; the provenance detector's extras and a scan line's provenance alike."""
    lines = [f"{i['strength']} {i['claim']}: {i['where']}: {i['detail']}" for i in found.get("evidence") or []]
    lines += [f"note: {n}" for n in found.get("notes") or []]
    return lines or ["no provenance evidence (its absence says nothing about the image)"]


def _quote(value: str, n: int = 160) -> str:
    one = " ".join(value.split())
    return one if len(one) <= n else one[:n] + "..."
