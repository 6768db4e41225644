"""Make the demo images in examples/ from scikit-image's bundled CC0 / public-domain photos.

    pip install scikit-image && python scripts/make_examples.py

Writes examples/{original,forged,masks}/ in the layout `forenscope eval` reads, plus
examples/SOURCES.md with each recipe and licence. Deterministic (fixed seeds).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from skimage import data

OUT = Path(__file__).resolve().parent.parent / "examples"


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def ellipse_mask(h: int, w: int, box: tuple[int, int, int, int]) -> np.ndarray:
    im = Image.new("L", (w, h), 0)
    ImageDraw.Draw(im).ellipse(box, fill=255)
    return np.asarray(im) > 127


def save(rgb: np.ndarray, rel: str, **kw) -> None:
    path = OUT / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path, **kw)


def main() -> None:
    rng = np.random.default_rng(2026)
    coffee, rocket, chelsea, astronaut = data.coffee(), data.rocket(), data.chelsea(), data.astronaut()

    save(coffee, "original/coffee.jpg", quality=92)
    save(rocket, "original/rocket.jpg", quality=92)

    # Splice: the cat's head, which went through a JPEG at quality 60, pasted on the table.
    h, w = coffee.shape[:2]
    mask = ellipse_mask(h, w, (400, 230, 560, 370))
    donor = jpeg(chelsea, 60)[40:180, 120:280]
    canvas = coffee.copy()
    canvas[230:370, 400:560][mask[230:370, 400:560]] = donor[mask[230:370, 400:560]]
    save(canvas, "forged/coffee_splice.jpg", quality=92)
    save(np.where(mask, 255, 0).astype(np.uint8), "masks/coffee_splice_mask.png")

    # Retouch: a region of sky smoothed and re-noised at three times the photo's noise level.
    h, w = rocket.shape[:2]
    mask = ellipse_mask(h, w, (60, 40, 260, 200))
    from PIL import ImageFilter
    smooth = np.asarray(Image.fromarray(rocket).filter(ImageFilter.GaussianBlur(3))).astype(np.float32)
    noisy = np.clip(smooth + rng.normal(0, 9, smooth.shape), 0, 255).astype(np.uint8)
    canvas = rocket.copy()
    canvas[mask] = noisy[mask]
    save(canvas, "forged/rocket_retouch.png")
    save(np.where(mask, 255, 0).astype(np.uint8), "masks/rocket_retouch_mask.png")

    # Copy-move: a 96 x 96 block copied 200 px to the right in the same photo (mask: both).
    canvas = astronaut.copy()
    src, dst = (slice(300, 396), slice(40, 136)), (slice(300, 396), slice(240, 336))
    canvas[dst] = canvas[src]
    mask = np.zeros(canvas.shape[:2], bool)
    mask[src] = mask[dst] = True
    save(canvas, "forged/astronaut_copymove.png")
    save(np.where(mask, 255, 0).astype(np.uint8), "masks/astronaut_copymove_mask.png")

    (OUT / "SOURCES.md").write_text(SOURCES)


SOURCES = """# Example images

Made by `scripts/make_examples.py` from photos bundled with scikit-image:

| photo | source and licence |
|---|---|
| coffee | Rachel Michetti, courtesy of Pikolo Espresso Bar: CC0 |
| chelsea | Stefan van der Walt: CC0 |
| rocket | SpaceX, DSCOVR launch: public domain |
| astronaut | NASA, Eileen Collins: public domain |

| file | recipe | mask |
|---|---|---|
| original/coffee.jpg, original/rocket.jpg | the photo saved as JPEG quality 92 | authentic |
| forged/coffee_splice.jpg | cat's head (after a JPEG at quality 60) pasted in an ellipse, saved at quality 92 | masks/coffee_splice_mask.png |
| forged/rocket_retouch.png | an ellipse of sky blurred (sigma 3) and re-noised (sigma 9), PNG | masks/rocket_retouch_mask.png |
| forged/astronaut_copymove.png | a 96 x 96 block copied 200 px to the right, PNG | masks/astronaut_copymove_mask.png (source and target) |
"""

if __name__ == "__main__":
    main()
