"""IID-Net (Wu & Zhou, TCSVT 2022) for inpainting localisation (METHODS.md section 2).

Enhancement block (normal 5x5 conv, Bayar-constrained 5x5 conv, trainable first-order
difference filters) -> the 10 NAS-found extraction cells (hard-coded genotype) -> global top-k
cosine attention + fixed local smoothing -> bilinear decoder -> logits at the input size.

Faults of the published code, fixed by default, reproducible with ``faithful_bayar=True``:
the Bayar constraint there is written back into the weights on every call and normalises only
output channel 0 (the others are scaled by 1e4 with a zero centre). Here it is computed
functionally for every kernel and never written back. ``width``, ``n_cells`` and ``dec_ch``
shrink the network for a CPU (5,781,142 parameters at full size).

``forward`` returns logits (before the original's smoothing and sigmoid);
:meth:`IIDNet.probabilities` applies the published post-processing.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# (in, out, stride, dilation, start_with_relu, genotype) of the published architecture
CELLS = (
    (64, 128, 2, 1, False, ("01", "03", "00")),
    (128, 256, 2, 1, True, ("02", "00", "00")),
    (256, 256, 1, 1, True, ("03", "02", "00")),
    (256, 256, 1, 2, True, ("01", "00", "01")),
    (256, 256, 1, 2, True, ("00", "02", "00")),
    (256, 256, 1, 2, True, ("00", "01", "00")),
    (256, 256, 1, 2, True, ("02", "03", "02")),
    (256, 256, 1, 2, True, ("03", "03", "00")),
    (256, 256, 1, 2, True, ("02", "02", "00")),
    (256, 256, 1, 2, True, ("00", "01", "03")),
)

# the fixed 5x5 local-attention kernel of the original's CustomizedConv("similarity")
LOCAL_KERNEL = (
    (0.03598, 0.03735, 0.03997, 0.03713, 0.03579),
    (0.03682, 0.03954, 0.04446, 0.03933, 0.03673),
    (0.03864, 0.04242, 0.07146, 0.04239, 0.03859),
    (0.03679, 0.03936, 0.04443, 0.03950, 0.03679),
    (0.03590, 0.03720, 0.04003, 0.03738, 0.03601),
)


def bayar_constrain(weight: torch.Tensor, faithful: bool = False) -> torch.Tensor:
    """Each kernel: centre 0, the rest scaled to sum to 1, centre -1 (a prediction-error filter).
    ``faithful``: the released code's behaviour, only output channel 0 constrained and the
    others multiplied by 1e4 with a zeroed centre."""
    k = weight.shape[-1]
    c = k // 2
    centre = torch.zeros_like(weight)
    centre[..., c, c] = 1.0
    w = weight * (1 - centre)
    normalised = w / w.sum(dim=(-2, -1), keepdim=True) - centre
    if not faithful:
        return normalised
    scaled = w * 1e4
    return torch.cat([normalised[:1], scaled[1:]], 0)


class Enhancement(nn.Module):
    def __init__(self, out_ch: int = 64, mid_ch: int = 32, faithful_bayar: bool = False):
        super().__init__()
        self.faithful_bayar = faithful_bayar
        self.normal = nn.Conv2d(3, 3, 5, padding=2, bias=False)
        self.bayar = nn.Parameter(torch.empty(3, 3, 5, 5))
        nn.init.kaiming_uniform_(self.bayar, a=5**0.5)
        self.pf = nn.Conv2d(3, 9, 3, padding=1, bias=False)
        self.reset_pf()
        self.stem = nn.Sequential(
            nn.Conv2d(15, mid_ch, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(mid_ch), nn.ReLU(),
            nn.Conv2d(mid_ch, out_ch, 3, padding=1, bias=False), nn.BatchNorm2d(out_ch), nn.ReLU())

    @torch.no_grad()
    def reset_pf(self) -> None:
        """Vertical, horizontal and diagonal first differences (centre -1), cycled 3 times
        (v, h, d, v, h, d, ...), on every colour channel (each output differentiates R+G+B).
        They stay trainable, as in the original."""
        kernels = torch.zeros(3, 3, 3)
        for i, (dy, dx) in enumerate(((1, 0), (0, 1), (1, 1))):
            kernels[i, 1, 1] = -1
            kernels[i, 1 + dy, 1 + dx] = 1
        self.pf.weight.copy_(kernels.repeat(3, 1, 1)[:, None].expand(9, 3, 3, 3))

    def bayar_weight(self) -> torch.Tensor:
        return bayar_constrain(self.bayar, self.faithful_bayar)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = torch.cat([self.normal(x), F.conv2d(x, self.bayar_weight(), padding=2), self.pf(x)], 1)
        return self.stem(feats)


class _SepXception(nn.Module):
    """'00': depthwise 3x3 (dilated, fixed padding) -> BN(in) -> pointwise, no biases."""

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        eff = 3 + 2 * (dilation - 1)
        total = eff - 1
        self.pad = (total // 2, total - total // 2, total // 2, total - total // 2)
        self.dw = nn.Conv2d(cin, cin, 3, stride, 0, dilation, groups=cin, bias=False)
        self.bn = nn.BatchNorm2d(cin)
        self.pw = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x):
        return self.pw(self.bn(self.dw(F.pad(x, self.pad))))


class _SepDarts(nn.Module):
    """'01' / '02': ReLU -> depthwise kxk -> pointwise -> BN(affine=False) (dilation ignored)."""

    def __init__(self, c: int, k: int, stride: int = 1):
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, k, stride, k // 2, groups=c, bias=False),
                                nn.Conv2d(c, c, 1, bias=False), nn.BatchNorm2d(c, affine=False))

    def forward(self, x):
        return self.op(x)


def _operation(op: str, c: int, stride: int, dilation: int) -> nn.Module:
    if op == "00":
        return _SepXception(c, c, stride, dilation)
    if op == "01":
        return _SepDarts(c, 3, stride)
    if op == "02":
        return _SepDarts(c, 5, stride)
    if op == "03":
        if stride != 1:
            raise ValueError("a stride-2 identity would break the cell")
        return nn.Identity()
    raise ValueError(f"unknown operation {op!r}")


class Cell(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, dilation: int, start_with_relu: bool, genotype):
        super().__init__()
        g0, g1, g2 = genotype
        layers = [nn.ReLU()] if start_with_relu else []
        layers += [_SepXception(cin, cout, 1, dilation), nn.BatchNorm2d(cout),
                   nn.ReLU(), _operation(g0, cout, 1, dilation), nn.BatchNorm2d(cout),
                   nn.ReLU(), _operation(g1, cout, 1, dilation), nn.BatchNorm2d(cout),
                   nn.ReLU(), _operation(g2, cout, stride, 1), nn.BatchNorm2d(cout)]
        self.rep = nn.Sequential(*layers)
        self.skip = None
        if cin != cout or stride != 1:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        return self.rep(x) + (x if self.skip is None else self.skip(x))  # no ReLU after the sum


def global_attention(f: torch.Tensor, top: int = 15, min_cos: float = 0.5) -> torch.Tensor:
    """Average of each position and its T*-1 most similar positions (cosine), T* the largest
    rank whose mean similarity is >= ``min_cos`` (at least 2). The original's off-by-one (the
    T*-th neighbour qualifies but is left out) is kept. O(N^2) in the number of positions."""
    b, c, h, w = f.shape
    n = h * w
    flat = f.flatten(2).transpose(1, 2)  # (B, N, C)
    unit = F.normalize(flat, dim=2, eps=1e-12)
    cos = unit @ unit.transpose(1, 2)
    k = min(top, n)
    vals, idx = cos.topk(k, dim=2)
    means = vals.mean(dim=(0, 1))
    # T* as a tensor, and the neighbours 1..T*-1 chosen by a mask rather than a slice, so the
    # graph is the same for every input (an ONNX export would otherwise freeze T*)
    ranks = torch.arange(k, device=f.device)
    last_ok = torch.where(means >= min_cos, ranks, torch.full_like(ranks, -1)).max()
    t_star = torch.where(last_ok >= 0, last_ok.clamp(min=2), torch.full_like(last_ok, max(2, k)))
    keep = ((ranks >= 1) & (ranks < t_star)).to(flat.dtype)
    neighbours = torch.gather(flat, 1, idx.reshape(b, -1, 1).expand(-1, -1, c)).view(b, n, k, c)
    summed = flat + (neighbours * keep.view(1, 1, k, 1)).sum(2)
    t_star = t_star.to(flat.dtype)
    return (summed / t_star).transpose(1, 2).reshape(b, c, h, w)


class IIDNet(nn.Module):
    def __init__(self, width: float = 1.0, n_cells: int = 10, dec_ch: int | None = None,
                 dec_convs: int = 2, faithful_bayar: bool = False, top: int = 15):
        super().__init__()
        if not 2 <= n_cells <= len(CELLS):
            raise ValueError(f"n_cells must be in 2..{len(CELLS)}, got {n_cells}")
        scale = lambda ch: max(1, int(round(ch * width)))  # noqa: E731
        self.enhance = Enhancement(scale(64), scale(32), faithful_bayar)
        self.cells = nn.Sequential(*[Cell(scale(i), scale(o), s, d, r, g) for i, o, s, d, r, g in CELLS[:n_cells]])
        c = scale(CELLS[n_cells - 1][1])
        self.top = top
        self.register_buffer("local_kernel", torch.tensor(LOCAL_KERNEL).expand(c, 1, 5, 5).clone(), persistent=False)
        dec = dec_ch or scale(256)
        stages, cin = [], 3 * c
        for _ in range(2):
            block = [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)]
            for j in range(dec_convs):
                block += [nn.Conv2d(cin if j == 0 else dec, dec, 3, padding=1), nn.BatchNorm2d(dec), nn.ReLU()]
            stages.append(nn.Sequential(*block))
            cin = dec
        stages.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
                                    nn.Conv2d(dec, 1, 3, padding=1)))
        self.decoder = nn.Sequential(*stages)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] (RGB; the original read BGR) -> logits (B, 1, H, W).
        H and W should be multiples of 8."""
        f = self.cells(self.enhance(x))
        local = F.conv2d(f, self.local_kernel, padding=2, groups=f.shape[1])
        y = self.decoder(torch.cat([f, global_attention(f, self.top), local], 1))
        if y.shape[-2:] != x.shape[-2:]:
            y = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return y

    @staticmethod
    def probabilities(logits: torch.Tensor) -> torch.Tensor:
        """The published post-processing: the code's "median" filter is a 5x5 mean (weights
        0.04, zero padding 2) on the logits, then a sigmoid."""
        box = torch.full((1, 1, 5, 5), 0.04, dtype=logits.dtype, device=logits.device)
        return torch.sigmoid(F.conv2d(logits, box, padding=2))
