"""Losses of the trained networks, outside the networks (forward returns logits)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def iid_focal_bce(logits: torch.Tensor, target: torch.Tensor, alpha: float = 0.25, gamma: float = 2.0,
                  double_sigmoid: bool = False) -> torch.Tensor:
    """IID-Net's loss: focal + BCE on the pixel probabilities. ``double_sigmoid`` reproduces the
    published code, whose focal weight uses sigmoid(sigmoid(logits))."""
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    p = torch.sigmoid(logits)
    if double_sigmoid:
        p = torch.sigmoid(p)
    p_t = p * target + (1 - p) * (1 - target)
    alpha_t = alpha * target + (1 - alpha) * (1 - target)
    return (alpha_t * (1 - p_t) ** gamma * bce).mean() + bce.mean()


def balanced_weights(labels: torch.Tensor) -> torch.Tensor:
    """(w_authentic, w_manipulated) = n / (2 n_class) over this batch's labels (0 / 1): both
    classes carry half the loss, whatever their share (an absent class weighs 1)."""
    n = labels.numel()
    pos = labels.float().sum()
    counts = torch.stack([n - pos, pos]).clamp(min=1)
    return (n / (2 * counts)).to(torch.float32)


def two_channel_sigmoid_ce(logits: torch.Tensor, mask: torch.Tensor, balanced: bool = False) -> torch.Tensor:
    """H-LSTM's loss: sigmoid cross-entropy on each of the 2 one-hot channels (not softmax);
    ``balanced``: each pixel weighted by its class's ``balanced_weights``."""
    onehot = torch.stack([1 - mask, mask], 1).to(logits.dtype)
    if not balanced:
        return F.binary_cross_entropy_with_logits(logits, onehot)
    w = balanced_weights(mask)
    pixel_w = torch.where(mask > 0.5, w[1], w[0]).unsqueeze(1).to(logits.dtype)
    return F.binary_cross_entropy_with_logits(logits, onehot, weight=pixel_w.expand_as(onehot))


def jlstm_loss(class_logits: torch.Tensor, seg_logits: torch.Tensor, patch_label: torch.Tensor,
               mask: torch.Tensor, weights=(1.0, 5.0), seg_weight: float = 10.0) -> torch.Tensor:
    """J-LSTM: weighted NLL on the patch class plus ``seg_weight`` x weighted pixel NLL.
    ``weights``: (authentic, manipulated), the published (1, 5), or "balanced": each term's
    ``balanced_weights`` from the batch's own patch / pixel labels."""
    if weights == "balanced":
        wc, ws = balanced_weights(patch_label), balanced_weights(mask)
    else:
        wc = ws = torch.tensor(weights, dtype=torch.float32)
    cls = F.cross_entropy(class_logits, patch_label.long(), weight=wc.to(class_logits))
    seg = F.cross_entropy(seg_logits, mask.long(), weight=ws.to(seg_logits))
    return cls + seg_weight * seg


def bce_dice(logits: torch.Tensor, mask: torch.Tensor, dice_weight: float = 1.0) -> torch.Tensor:
    """Pixel BCE plus soft Dice over each image that has a manipulated region (Dice is F1:
    it pulls the map towards the metric; images without a region add BCE only)."""
    bce = F.binary_cross_entropy_with_logits(logits, mask)
    p = torch.sigmoid(logits).flatten(1)
    m = mask.flatten(1)
    has = m.sum(1) > 0
    if not has.any():
        return bce
    inter = (p * m).sum(1)[has]
    dice = 1 - (2 * inter + 1) / (p.sum(1)[has] + m.sum(1)[has] + 1)
    return bce + dice_weight * dice.mean()


def classification_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Real-vs-generated (or n-class) loss: BCE on one logit, cross-entropy on several."""
    if logits.shape[1] == 1:
        return F.binary_cross_entropy_with_logits(logits[:, 0], labels.float())
    return F.cross_entropy(logits, labels.long())
