"""Provenance evidence on files made here: a C2PA manifest signed with a certificate chain this
test makes, PNGs carrying each known generator signature, images watermarked by the
invisible-watermark package, a plain photo, and hostile files (oversized text, broken XMP,
a damaged manifest store)."""

from __future__ import annotations

import datetime
import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from conftest import REPO, textured
from forenscope.detectors import load_detector
from forenscope.imageio import decode_image
from forenscope.verdict import evidence, fuse

PHOTO = REPO / "examples" / "original" / "rocket.jpg"


def png_bytes(rgb: np.ndarray, text: dict | None = None, itxt: dict | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    for k, v in (text or {}).items():
        info.add_text(k, v)
    for k, v in (itxt or {}).items():
        info.add_itxt(k, v, zip=True)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG", pnginfo=info)
    return buf.getvalue()


def analyse(data: bytes):
    rgb, meta = decode_image(data, source="test")
    return load_detector("provenance").analyze(rgb, meta), meta


# ------------------------------------------------------------------ metadata signatures

XMP_GENERATED = ('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
                 '<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
                 'Iptc4xmpExt:DigitalSourceType="http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"/>'
                 '</rdf:RDF></x:xmpmeta>')
SIGNED_TEXT = {
    "a1111-parameters": ({"parameters": "a red fox in snow\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, "
                                        "CFG scale: 7, Seed: 1, Size: 512x512, Model: v1-5"}, {}),
    "comfyui-prompt": ({"prompt": '{"3": {"class_type": "KSampler", "inputs": {"seed": 1}}}'}, {}),
    "comfyui-workflow": ({"workflow": '{"last_node_id": 9, "nodes": [{"id": 3, "type": "KSampler"}]}'}, {}),
    "invokeai-metadata": ({"invokeai_metadata": '{"positive_prompt": "a fox", "steps": 30}'}, {}),
    "novelai": ({"Software": "NovelAI", "Source": "NovelAI Diffusion V3 4BDE2A90"}, {}),
    "fooocus": ({"parameters": '{"full_prompt": ["a fox"], "performance": "Speed"}', "fooocus_scheme": "fooocus"}, {}),
    "iptc-digital-source-generated": ({}, {"XML:com.adobe.xmp": XMP_GENERATED}),
}


@pytest.mark.parametrize("signature", sorted(SIGNED_TEXT))
def test_each_known_generator_signature_is_strong_generated_evidence(signature):
    text, itxt = SIGNED_TEXT[signature]
    a, _ = analyse(png_bytes(textured(96, 96, seed=3), text, itxt))
    assert a.label == "generated" and a.score > 0.99
    hits = [e for e in a.extras["evidence"] if e.get("signature") == signature]
    assert hits and hits[0]["strength"] == "strong" and hits[0]["reference"]
    assert a.extras["reason"]


def test_a1111_parameters_in_jpeg_exif_usercomment_are_read():
    exif = Image.Exif()
    exif[0x8769] = {0x9286: b"UNICODE\x00" + "a fox\nSteps: 20, Sampler: DPM++ 2M, Seed: 7".encode("utf-16-be")}
    buf = io.BytesIO()
    Image.fromarray(textured(96, 96)).save(buf, "JPEG", quality=92, exif=exif)
    a, _ = analyse(buf.getvalue())
    assert a.label == "generated"
    assert any(e.get("signature") == "a1111-parameters" and e["where"].startswith("EXIF") for e in a.extras["evidence"])


def test_camera_exif_and_an_editor_are_shown_but_never_decide():
    exif = Image.Exif()
    exif[0x010F], exif[0x0110], exif[0x0131] = "Canon", "Canon EOS 5D Mark IV", "Adobe Photoshop 25.0"
    exif[0x8769] = {0x829A: 1 / 250, 0x8827: 400}
    buf = io.BytesIO()
    Image.fromarray(textured(96, 96)).save(buf, "JPEG", quality=92, exif=exif)
    a, _ = analyse(buf.getvalue())
    claims = {(e["claim"], e["strength"]) for e in a.extras["evidence"]}
    assert ("camera", "info") in claims and ("edited", "info") in claims
    assert a.label == "no evidence" and a.score == 0.5


def test_a_plain_photo_has_no_evidence_and_the_verdict_ignores_it():
    rgb, meta = decode_image(PHOTO.read_bytes(), source=str(PHOTO))
    prov = load_detector("provenance").analyze(rgb, meta)
    assert prov.label == "no evidence" and not prov.extras["decisive"]
    assert not [e for e in prov.extras["evidence"] if e["strength"] != "info"]  # no false claim
    pixel = evidence_of("generated", 0.2, 0.5)
    assert fuse([evidence(prov, 0.5), pixel]) == fuse([pixel])


def evidence_of(task: str, score: float, threshold: float) -> dict:
    from forenscope.analysis import Analysis

    label = "generated" if score >= threshold else "authentic"
    return evidence(Analysis("pixels", task, score, label), threshold)


def test_a_composite_declared_in_xmp_is_strong_tampered_evidence_and_the_verdict_says_tampered():
    xmp = XMP_GENERATED.replace("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia")
    a, _ = analyse(png_bytes(textured(96, 96), itxt={"XML:com.adobe.xmp": xmp}))
    assert a.label == "tampered"
    assert fuse([evidence(a, 0.5), evidence_of("generated", 0.9, 0.5)])["verdict"] == "tampered"


def test_strong_provenance_decides_the_verdict_over_the_pixel_detectors():
    a, _ = analyse(png_bytes(textured(96, 96), SIGNED_TEXT["comfyui-prompt"][0]))
    pixels_say_authentic = evidence_of("generated", 0.01, 0.8)
    v = fuse([pixels_say_authentic, evidence(a, 0.5)])
    assert v["verdict"] == "generated" and "ComfyUI" in v["reasons"][0]


# ------------------------------------------------------------------ hostile files

def test_a_png_with_a_100_mb_text_chunk_is_analysed_with_a_note():
    body = png_bytes(textured(64, 64))
    text = b"parameters\x00" + b"x" * (100 << 20)
    chunk = struct.pack(">I", len(text)) + b"tEXt" + text + struct.pack(">I", zlib.crc32(b"tEXt" + text) & 0xFFFFFFFF)
    data = body[:33] + chunk + body[33:]  # after IHDR
    rgb, meta = decode_image(data, source="big-text.png")
    assert rgb.shape == (64, 64, 3) and meta.file_size == len(data)
    assert any("skipped" in n and "104,857,6" in n for n in meta.provenance["notes"])
    assert sum("skipped" in n for n in meta.provenance["notes"]) == 1  # once, not per reader
    assert load_detector("ela").analyze(rgb, meta).heatmap.shape == (64, 64)  # the pixel detectors still run


def test_xmp_that_is_not_xml_is_a_note():
    a, _ = analyse(png_bytes(textured(64, 64), itxt={"XML:com.adobe.xmp": "<x:xmpmeta><rdf:RDF>not closed"}))
    assert a.label == "no evidence" and any("XMP is not well-formed" in n for n in a.extras["notes"])


# ------------------------------------------------------------------ invisible watermark

@pytest.fixture(scope="module")
def watermarked():
    """The shipped 512x512 astronaut example marked by invisible-watermark with the SD 1.x payload
    (true BGR), and with SDXL's 48-bit message handed over as RGB, the way diffusers does. (On
    rocket.jpg, whose sky is near white, the package's own SDXL round trip loses 7 of 48 bits.)"""
    cv2 = pytest.importorskip("cv2")
    imwatermark = pytest.importorskip("imwatermark", reason="invisible-watermark not installed (make install adds it)")
    from forenscope.provenance.watermark import PAYLOADS

    rgb = np.asarray(Image.open(REPO / "examples" / "forged" / "astronaut_copymove.png").convert("RGB"))
    sd1 = imwatermark.WatermarkEncoder()
    sd1.set_watermark("bytes", b"StableDiffusionV1")
    sdxl = imwatermark.WatermarkEncoder()
    sdxl.set_watermark("bits", list(PAYLOADS["SDXL (48-bit message)"]))
    return {"sd1": np.ascontiguousarray(sd1.encode(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), "dwtDct")[..., ::-1]),
            "sdxl": np.ascontiguousarray(sdxl.encode(rgb.copy(), "dwtDct")), "plain": rgb}


def test_the_vectorised_reader_votes_bit_for_bit_like_the_package(watermarked):
    from imwatermark.maxDct import EmbedMaxDct

    from forenscope.provenance.watermark import read_votes

    for key, order, n in (("sd1", "bgr", 136), ("sdxl", "rgb", 48), ("plain", "bgr", 136)):
        rgb = watermarked[key]
        bgr_as_given = np.ascontiguousarray(rgb[..., ::-1] if order == "bgr" else rgb)
        theirs = EmbedMaxDct(watermarks=[], wmLen=n).decode(bgr_as_given)
        assert np.array_equal(theirs, read_votes(rgb, n, order) * 255 > 127), key


def jpeg(rgb: np.ndarray, quality: int, subsampling: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality, subsampling=subsampling)
    return np.asarray(Image.open(buf).convert("RGB"))


def test_watermarks_decode_by_bit_agreement_and_what_jpeg_leaves(watermarked):
    det = load_detector("provenance")
    for key, payload, order in (("sd1", "Stable Diffusion 1.x", "BGR"), ("sdxl", "SDXL", "RGB")):
        a = det.analyze(watermarked[key])
        wm = [e for e in a.extras["evidence"] if e["source"] == "watermark"]
        assert a.label == "generated" and wm and payload in wm[0]["detail"] and order in wm[0]["where"]
    # JPEG q90 with full-resolution chroma (4:4:4) keeps the SD 1.x mark; q90 with 4:2:0 chroma,
    # what most encoders do by default, halves the U channel that carries it: gone, as at q50
    assert det.analyze(jpeg(watermarked["sd1"], 90, 0)).label == "generated"
    for quality, sub in ((90, 2), (50, 2)):
        r = det.analyze(jpeg(watermarked["sd1"], quality, sub))
        assert r.label == "no evidence" and r.extras["watermark"]["status"] in ("no match", "unreadable")
    plain = det.analyze(watermarked["plain"]).extras["watermark"]
    assert plain["status"] != "match" and plain["best"]["false_match_probability"] > 1e-3


def test_a_flat_bright_image_reads_as_unreadable_not_as_a_match():
    from forenscope.provenance.watermark import read_watermarks

    r = read_watermarks(np.full((300, 300, 3), 250, np.uint8))
    assert r["status"] == "unreadable" and "flat or saturated" in r["note"]
    assert read_watermarks(np.zeros((100, 100, 3), np.uint8))["status"] == "too small"


# ------------------------------------------------------------------ Content Credentials

def _certificate_chain():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "forenscope test")])

    def usage(sign_certs: bool):
        return x509.KeyUsage(digital_signature=not sign_certs, content_commitment=False, key_encipherment=False,
                             data_encipherment=False, key_agreement=False, key_cert_sign=sign_certs,
                             crl_sign=sign_certs, encipher_only=False, decipher_only=False)

    now = datetime.datetime.now(datetime.timezone.utc)
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def cert(subject, issuer, public, signer, ca):
        b = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(name(issuer)).public_key(public)
             .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=30))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
             .add_extension(usage(ca), critical=True))
        if not ca:
            b = (b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
                 .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False))
        return b.sign(signer, hashes.SHA256())

    root = cert("forenscope test root", "forenscope test root", root_key.public_key(), root_key, True)
    leaf = cert("forenscope test signer", "forenscope test root", key.public_key(), root_key, False)
    pem = serialization.Encoding.PEM
    return (leaf.public_bytes(pem) + root.public_bytes(pem),
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
            root.public_bytes(pem))


@pytest.fixture(scope="module")
def signed_jpeg():
    c2pa = pytest.importorskip("c2pa")
    chain, private_key, root = _certificate_chain()
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, private_key, None))
    buf = io.BytesIO()
    Image.fromarray(textured(128, 160, seed=5)).save(buf, "JPEG", quality=90)
    manifest = {"claim_generator_info": [{"name": "TestGen image service", "version": "1"}], "title": "fox.jpg",
                "assertions": [{"label": "c2pa.actions", "data": {"actions": [{
                    "action": "c2pa.created", "softwareAgent": {"name": "TestGen"},
                    "digitalSourceType": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"}]}}]}
    out = io.BytesIO()
    c2pa.Builder(manifest).sign(signer, "image/jpeg", io.BytesIO(buf.getvalue()), out)
    return out.getvalue(), root


def _c2pa_summary(a) -> dict:
    return next(e for e in a.extras["evidence"] if e["where"] == "C2PA active manifest")["manifest"]


def test_a_signed_manifest_declaring_generated_media_is_strong_evidence_from_an_untrusted_signer(signed_jpeg):
    a, _ = analyse(signed_jpeg[0])
    m = _c2pa_summary(a)
    assert m["state"] == "Valid" and not m["trusted"] and m["signer"] == "forenscope test signer"
    assert m["claim_generator"].startswith("TestGen") and not m["pixels_changed"]
    assert a.label == "generated" and "trainedAlgorithmicMedia" in a.extras["reason"]


def test_the_users_trust_anchors_make_the_signer_trusted(signed_jpeg, tmp_path, monkeypatch):
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(signed_jpeg[1])
    monkeypatch.setenv("FORENSCOPE_C2PA_TRUST", str(anchors))
    a, _ = analyse(signed_jpeg[0])
    assert _c2pa_summary(a)["state"] == "Trusted" and _c2pa_summary(a)["trusted"]


def test_pixels_changed_after_signing_break_the_hard_binding(signed_jpeg):
    data = bytearray(signed_jpeg[0])
    data[-200] ^= 0x5A  # inside the entropy-coded scan: the pixels change, the manifest stays
    a, _ = analyse(bytes(data))
    m = _c2pa_summary(a)
    assert m["state"] == "Invalid" and m["pixels_changed"]
    assert any(e["where"] == "C2PA hard binding" for e in a.extras["evidence"])
    # a broken signature no longer decides: the claim is shown as weak evidence
    assert a.label == "no evidence" and any(e["claim"] == "generated" and e["strength"] == "weak"
                                             for e in a.extras["evidence"])


def test_a_damaged_manifest_store_is_a_note_and_the_pixels_are_still_analysed(signed_jpeg):
    data = bytearray(signed_jpeg[0])
    at = bytes(data).find(b"c2pa.signature")
    data[at + 20:at + 220] = b"\x00" * 200
    a, meta = analyse(bytes(data))
    assert a.label == "no evidence"
    assert any(e["source"] == "c2pa" and "could not be read" in e["detail"] for e in a.extras["evidence"])
    rgb, meta = decode_image(bytes(data), source="damaged")
    assert load_detector("noise").analyze(rgb, meta).heatmap is not None


def test_an_oversized_manifest_store_is_noted_not_validated(signed_jpeg, monkeypatch):
    from forenscope.provenance import evidence as ev

    monkeypatch.setattr(ev, "MAX_C2PA", 1000)  # the signed test store is ~170 kB: "oversized" here
    a, _ = analyse(signed_jpeg[0])
    assert a.label == "no evidence" and any("not validated (over 1,000)" in n for n in a.extras["notes"])
    assert not [e for e in a.extras["evidence"] if e["source"] == "c2pa"]


def test_detect_prints_the_evidence(signed_jpeg, tmp_path):
    from typer.testing import CliRunner

    from forenscope.cli import app

    path = tmp_path / "signed.jpg"
    path.write_bytes(signed_jpeg[0])
    res = CliRunner().invoke(app, ["detect", str(path), str(PHOTO), "-d", "provenance", "--no-progress", "-f", "jsonl"])
    assert res.exit_code == 0, res.output
    import json

    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert rows[0]["label"] == "generated" and any("trainedAlgorithmicMedia" in x for x in rows[0]["evidence"])
    assert rows[1]["label"] == "no evidence"


def test_scan_includes_provenance_by_default_and_its_panel(signed_jpeg, tmp_path):
    from forenscope import DEFAULT_DETECTORS

    assert DEFAULT_DETECTORS[0] == "provenance"
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "signed.jpg").write_bytes(signed_jpeg[0])
    from forenscope.scan.job import ScanConfig, analyse_file

    row = analyse_file(folder / "signed.jpg", folder, tmp_path / "out",
                       [load_detector("provenance"), load_detector("ela")], ScanConfig(detectors=["provenance", "ela"]), {})
    assert row["verdict"] == "generated" and row["provenance"]["evidence"]
    from forenscope.report.html import _provenance

    assert "trainedAlgorithmicMedia" in _provenance(row["provenance"])
