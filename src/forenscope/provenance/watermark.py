"""The invisible DWT-DCT watermark of the Stable Diffusion reference pipelines, read the way the
``invisible-watermark`` package (``imwatermark``, method ``dwtDct``) reads it, vectorised.

How the package embeds it (its ``maxDct.py``): the image (taken as BGR) goes to YUV; only the U
channel carries bits (scales 0, 36, 36 over channels Y, U, V, but its loop stops before V);
the Haar approximation of U is cut into 4x4 blocks in raster order; block ``n`` carries bit
``n mod L`` in the largest-magnitude coefficient after the first, quantised so that
``|c| mod 36`` lands in the upper half for a 1. Reading averages each bit's votes over all
its blocks. A block whose pixels were clipped at 0 or 255 when the watermark was written loses
its vote, which is why bright or flat images read back as all ones or noise: such reads are
reported as unreadable, never as a match.

Payloads (published in the pipelines' code): Stable Diffusion 1.x (CompVis ``txt2img.py``)
writes the bytes "StableDiffusionV1" on a true BGR image; SDXL (Stability's
``generative-models`` and diffusers' ``StableDiffusionXLWatermarker``) writes a 48-bit message
and hands the encoder RGB in place of BGR, so both channel orders are read.
A match is judged by bit agreement: the probability that an unmarked image agrees on at least
that many bits by chance (a fair coin per bit), times the number of payload / order pairs
tried, is the stated false-match probability.
"""

from __future__ import annotations

import math

import numpy as np

SCALE = 36.0   # the package's quantisation step for the U channel
BLOCK = 4
MIN_PIXELS = 256 * 256  # the package refuses smaller images
STRONG_FALSE_MATCH = 1e-6


def _bits(value: int, n: int) -> np.ndarray:
    return np.array([(value >> (n - 1 - i)) & 1 for i in range(n)], np.uint8)


PAYLOADS = {
    "Stable Diffusion 1.x (StableDiffusionV1)": np.unpackbits(np.frombuffer(b"StableDiffusionV1", np.uint8)),
    "SDXL (48-bit message)": _bits(0b101100111110110010010000011110111011000110011110, 48),
}
# the image handed to the encoder: "bgr" = a true BGR image; "rgb" = RGB passed as if BGR
ORDERS = ("bgr", "rgb")


def haar_approximation(x: np.ndarray) -> np.ndarray:
    """pywt.dwt2(x, 'haar')[0] for even-sized x, bit for bit: each 2x2 block's sum / 2, in
    pywt's order of operations (watermark blocks sit on quantisation edges, where the last bit
    of rounding decides a vote)."""
    h = 0.7071067811865476  # pywt's Haar filter tap
    x = x.astype(np.float64)
    rows = x[0::2] * h + x[1::2] * h
    return rows[:, 0::2] * h + rows[:, 1::2] * h


def read_votes(rgb: np.ndarray, length: int, order: str) -> np.ndarray:
    """The mean vote (share of blocks reading 1) of each of ``length`` bits."""
    import cv2

    encoder_input = rgb[..., ::-1] if order == "bgr" else rgb
    rows, cols = rgb.shape[0] // 4 * 4, rgb.shape[1] // 4 * 4
    u = cv2.cvtColor(np.ascontiguousarray(encoder_input), cv2.COLOR_BGR2YUV)[:rows, :cols, 1]
    frame = haar_approximation(u)
    r, c = frame.shape[0] // BLOCK, frame.shape[1] // BLOCK
    blocks = frame[:r * BLOCK, :c * BLOCK].reshape(r, BLOCK, c, BLOCK).transpose(0, 2, 1, 3).reshape(-1, BLOCK * BLOCK)
    pos = np.argmax(np.abs(blocks[:, 1:]), axis=1) + 1
    value = np.abs(blocks[np.arange(len(blocks)), pos])
    vote = (value % SCALE) > 0.5 * SCALE
    bit = np.arange(len(blocks)) % length
    return np.bincount(bit, weights=vote, minlength=length) / np.maximum(np.bincount(bit, minlength=length), 1)


def false_match_probability(agree: int, n: int) -> float:
    """P(at least ``agree`` of ``n`` fair coin flips match)."""
    return float(sum(math.comb(n, k) for k in range(agree, n + 1)) / 2.0 ** n)


def read_watermarks(rgb: np.ndarray) -> dict:
    """{"status": "match" | "no match" | "unreadable" | "too small", "best": {...}, "reads": [...]}.
    ``best``: the payload / order with the most agreeing bits, its agreement, its false-match
    probability (corrected for every pair tried) and whether it is strong evidence."""
    if rgb.shape[0] * rgb.shape[1] < MIN_PIXELS or min(rgb.shape[:2]) < 2 * BLOCK * 2:
        return {"status": "too small", "note": "the watermark needs at least 256 x 256 pixels", "reads": []}
    tries = len(PAYLOADS) * len(ORDERS)
    reads, votes_seen = [], []
    for name, payload in PAYLOADS.items():
        for order in ORDERS:
            votes = read_votes(rgb, len(payload), order)
            bits = (votes * 255 > 127).astype(np.uint8)  # the package's rule
            votes_seen.append(bits)
            agree = int((bits == payload).sum())
            p = min(1.0, tries * false_match_probability(agree, len(payload)))
            reads.append({"payload": name, "order": order, "bits": len(payload), "agree": agree,
                          "false_match_probability": p, "strong": p <= STRONG_FALSE_MATCH})
    best = max(reads, key=lambda r: (r["agree"] / r["bits"], -r["false_match_probability"]))
    if best["strong"]:
        return {"status": "match", "best": best, "reads": reads}
    if all(b.min() == b.max() for b in votes_seen):
        return {"status": "unreadable", "best": best, "reads": reads,
                "note": "every bit reads the same (a flat or saturated image carries no readable watermark)"}
    return {"status": "no match", "best": best, "reads": reads}
