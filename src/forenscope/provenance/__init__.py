"""Provenance evidence: what an image says about where it came from (Content Credentials,
generator metadata, invisible watermarks, camera fields). Reads bytes and pixels only; the
``provenance`` detector (detectors/provenance.py) turns it into an Analysis."""
