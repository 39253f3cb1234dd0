"""Losses for the two networks (plain torch)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

FRACTURE_CLASS_WEIGHTS = (1.0, 3.0, 1.0, 1.0)  # fractured pixels are rare; weight them up


IGNORE = -100  # target value of pixels that count for nothing (training.data.IGNORE)


def soft_dice(logits: torch.Tensor, target: torch.Tensor, classes: int) -> torch.Tensor:
    """Mean (1 − Dice) over the foreground classes of a softmax segmentation (IGNORE skipped)."""
    valid = (target != IGNORE).unsqueeze(1).float()
    prob = torch.softmax(logits, dim=1) * valid
    onehot = F.one_hot(target.clamp_min(0), classes).permute(0, 3, 1, 2).float() * valid
    dims = (0, 2, 3)
    inter = (prob * onehot).sum(dims)
    denom = prob.sum(dims) + onehot.sum(dims)
    dice = (2 * inter + 1.0) / (denom + 1.0)
    return 1.0 - dice[1:].mean()


def film_loss(out: dict, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
    """CE + Dice for the fracture and level tasks, focal-ish BCE for centres, BCE for globals."""
    w = torch.tensor(FRACTURE_CLASS_WEIGHTS, device=out["fracture"].device)
    frac = F.cross_entropy(out["fracture"], batch["fracture"], weight=w,
                           ignore_index=IGNORE) + soft_dice(
        out["fracture"], batch["fracture"], 4)
    level = F.cross_entropy(out["level"], batch["level"], ignore_index=IGNORE) + soft_dice(
        out["level"], batch["level"], 4)
    target = batch["centre"]
    # Positive pixels are few: weight the bumps so the heatmap does not collapse to zero.
    weight = (1.0 + 20.0 * target) * (batch["fracture"] != IGNORE).float()
    centre = (F.binary_cross_entropy_with_logits(out["centre"], target, reduction="none") * weight).mean()
    glob = F.binary_cross_entropy_with_logits(out["global"], batch["global"])
    bone = (batch["fracture"] > 0).float()
    facing_target = batch["global"][:, 0, None, None].expand_as(out["facing"])
    facing = (F.binary_cross_entropy_with_logits(out["facing"], facing_target, reduction="none")
              * bone).sum() / bone.sum().clamp_min(1.0)
    total = frac + 0.5 * level + centre + 0.2 * glob + 0.5 * facing
    return total, {"frac": frac.item(), "level": level.item(), "centre": centre.item(),
                   "global": glob.item(), "facing": facing.item()}


def gaussian_targets(points: torch.Tensor, size: int, sigma: float) -> torch.Tensor:
    """Normalised Gaussian distributions (B, C, S, S) centred on ``points`` (B, C, 2)."""
    grid = torch.arange(size, dtype=points.dtype, device=points.device)
    gx = torch.exp(-((grid[None, None, :] - points[..., 0:1]) ** 2) / (2 * sigma ** 2))
    gy = torch.exp(-((grid[None, None, :] - points[..., 1:2]) ** 2) / (2 * sigma ** 2))
    heat = gy[..., :, None] * gx[..., None, :]
    return heat / heat.sum(dim=(-2, -1), keepdim=True).clamp_min(1e-8)


def body_loss(out: dict, batch: dict) -> tuple[torch.Tensor, dict[str, float]]:
    """Mask BCE + Dice, landmark L1 (px) + heatmap cross-entropy, fracture BCE."""
    mask_logits, mask = out["mask"], batch["mask"]
    bce = F.binary_cross_entropy_with_logits(mask_logits, mask)
    prob = torch.sigmoid(mask_logits)
    dice = 1 - (2 * (prob * mask).sum() + 1) / (prob.sum() + mask.sum() + 1)
    pts = batch["landmarks"]
    l1 = (out["landmarks"] - pts).abs().mean()
    size = mask.shape[-1]
    logp = torch.log_softmax(out["heatmaps"].flatten(2), dim=-1)
    target = gaussian_targets(pts, size, sigma=1.5).flatten(2)
    heat = -(target * logp).sum(-1).mean()
    frac = F.binary_cross_entropy_with_logits(out["fracture"], batch["fracture"])
    total = bce + dice + 0.5 * l1 + 0.1 * heat + 0.5 * frac
    return total, {"mask": (bce + dice).item(), "l1_px": l1.item(), "heat": heat.item(),
                   "frac": frac.item()}
