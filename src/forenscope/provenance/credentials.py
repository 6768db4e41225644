"""Content Credentials (C2PA): the embedded manifest store read and validated by the official
bindings (``c2pa-python``), offline. Trust anchors come only from the user: a PEM bundle named
by ``FORENSCOPE_C2PA_TRUST`` (or passed in); forenscope ships none and fetches nothing, so
without them a valid signature is reported as "valid, signer not in the trust list given".
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from forenscope.provenance.containers import cut

TRUST_ENV = "FORENSCOPE_C2PA_TRUST"  # a PEM file of trusted root certificates
MIME = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
GENERATED_SOURCE_TYPES = {"trainedalgorithmicmedia": "generated", "algorithmicmedia": "generated",
                          "compositewithtrainedalgorithmicmedia": "tampered",
                          "compositesynthetic": "tampered"}


def read_credentials(data: bytes, fmt: str, trust_anchors: str | None = None) -> dict:
    """A summary of the active manifest: {"state": "Trusted" | "Valid" | "Invalid" | "unreadable",
    "signer", "claim_generator", "actions", "digital_source_types", "failures", "pixels_changed",
    "trusted"}; or {"state": "unavailable"} when c2pa-python is not installed."""
    try:
        import c2pa
    except ImportError:
        return {"state": "unavailable", "note": "c2pa-python is not installed: Content Credentials not read"}
    if trust_anchors is None and os.environ.get(TRUST_ENV):
        try:
            trust_anchors = Path(os.environ[TRUST_ENV]).read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            return {"state": "unreadable", "note": f"{TRUST_ENV}: cannot read the trust anchors: {exc}"}
    mime = MIME.get(fmt)
    if mime is None:
        return {"state": "unreadable", "note": f"C2PA in {fmt} files is not read"}
    try:
        context = c2pa.Context.from_dict({"trust": {"trust_anchors": trust_anchors}}) if trust_anchors else None
        reader = c2pa.Reader(mime, io.BytesIO(data), context=context)
        manifest = reader.get_active_manifest() or {}
        state = reader.get_validation_state() or "unknown"
        results = (reader.get_validation_results() or {}).get("activeManifest", {})
    except Exception as exc:  # a malformed store: say so, keep going
        return {"state": "unreadable", "note": cut(f"manifest store could not be read: {exc}")}
    failures = [f.get("code", "") for f in results.get("failure", [])]
    actions, sources = [], []
    for assertion in manifest.get("assertions", []):
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for act in assertion.get("data", {}).get("actions", []):
            agent = act.get("softwareAgent")
            agent = agent.get("name") if isinstance(agent, dict) else agent
            actions.append({"action": act.get("action"), "software": agent,
                            "digital_source_type": act.get("digitalSourceType")})
            if act.get("digitalSourceType"):
                sources.append(str(act["digitalSourceType"]))
    generators = [g.get("name", "") for g in manifest.get("claim_generator_info", []) if isinstance(g, dict)]
    signature = manifest.get("signature_info", {})
    return {"state": state, "trusted": state == "Trusted",
            "signer": signature.get("common_name") or signature.get("issuer"),
            "issuer": signature.get("issuer"),
            "claim_generator": ", ".join(generators) or manifest.get("claim_generator"),
            "title": manifest.get("title"), "actions": actions, "digital_source_types": sources,
            "failures": failures,
            # the hard binding (hash of the asset's bytes) no longer matches: changed after signing
            "pixels_changed": any(code.startswith(("assertion.dataHash.mismatch", "assertion.bmffHash.mismatch",
                                                   "assertion.boxesHash.mismatch")) for code in failures)}


def source_type_claim(uri: str) -> str | None:
    """"generated" / "tampered" for IPTC digital source types that say a model made (part of)
    the image, else None."""
    return GENERATED_SOURCE_TYPES.get(uri.rstrip("/").rsplit("/", 1)[-1].lower())
