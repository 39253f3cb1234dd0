"""Multi-task U-Nets in plain torch: one shared ResNet-style encoder, one decoder, task heads.

Two networks make the model (CLINICAL.md §5, Ryu 2023, plus a landmark stage):

* ``FilmNet`` sees the whole letterboxed film (e.g. 256 px square) and predicts, per pixel, the
  fracture task {bg, fractured, normal, sacrum}, the level-region task {bg, thoracic, lumbar,
  sacrum}, a body-centre heatmap that separates touching neighbours and "patient faces right"
  (meaningful on bone pixels); from its bottleneck two film-level logits: "patient faces right"
  (kept as a fallback) and "grey scale inverted".
* ``BodyNet`` sees one body in a crop at a body-relative scale (e.g. 96 px square, body facing
  left, column axis vertical) and predicts the body mask, six landmark heatmaps (decoded by a
  sub-pixel soft-argmax) and a fracture logit.

Both share the encoder/decoder code; the heads are light (3x3 conv + 1x1) because a shared decoder
cost half as much on CPU as one decoder per task for no measurable loss on the small data we have.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class NetSpec:
    """Shape of one U-Net: input size, channel widths per stage and head sizes."""

    input_size: int
    widths: tuple[int, ...] = (8, 16, 32, 64, 96, 128)
    in_channels: int = 1
    stem_stride: int = 1  # 2: heads run at half resolution and logits are upsampled (CPU cost)

    def as_dict(self) -> dict:
        return {"input_size": self.input_size, "widths": list(self.widths),
                "in_channels": self.in_channels, "stem_stride": self.stem_stride}


def _norm(channels: int) -> nn.Module:
    # GroupNorm: batch sizes are tiny on CPU and BatchNorm statistics would be noisy.
    return nn.GroupNorm(min(8, channels // 4) or 1, channels)


class ResBlock(nn.Module):
    """Basic residual block (two 3x3 convs) with an optional strided projection."""

    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.norm1 = _norm(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.norm2 = _norm(cout)
        self.skip = None
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), _norm(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return F.relu(out + (x if self.skip is None else self.skip(x)))


class Encoder(nn.Module):
    """ResNet-style encoder: a full-resolution stem, then one strided block + one block per stage."""

    def __init__(self, spec: NetSpec) -> None:
        super().__init__()
        w = spec.widths
        self.stem = nn.Sequential(nn.Conv2d(spec.in_channels, w[0], 3, spec.stem_stride, 1,
                                            bias=False),
                                  _norm(w[0]), nn.ReLU(inplace=True), ResBlock(w[0], w[0]))
        self.stages = nn.ModuleList(
            nn.Sequential(ResBlock(w[i - 1], w[i], stride=2), ResBlock(w[i], w[i]))
            for i in range(1, len(w))
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = [self.stem(x)]
        for stage in self.stages:
            feats.append(stage(feats[-1]))
        return feats


class Decoder(nn.Module):
    """U-Net decoder: upsample, concatenate the skip, one residual block per level."""

    def __init__(self, spec: NetSpec) -> None:
        super().__init__()
        w = spec.widths
        self.blocks = nn.ModuleList(
            ResBlock(w[i + 1] + w[i], w[i]) for i in reversed(range(len(w) - 1))
        )

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        x = feats[-1]
        for block, skip in zip(self.blocks, reversed(feats[:-1])):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return x


def _head(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(cin, cin, 3, 1, 1), nn.ReLU(inplace=True), nn.Conv2d(cin, cout, 1))


class FilmNet(nn.Module):
    """Whole-film multi-task U-Net (see module docstring)."""

    FRACTURE_CLASSES = ("background", "fractured", "normal", "sacrum")
    LEVEL_CLASSES = ("background", "thoracic", "lumbar", "sacrum")
    GLOBAL_OUTPUTS = ("faces_right", "inverted")

    def __init__(self, spec: NetSpec) -> None:
        super().__init__()
        self.spec = spec
        self.encoder = Encoder(spec)
        self.decoder = Decoder(spec)
        c = spec.widths[0]
        self.fracture_head = _head(c, len(self.FRACTURE_CLASSES))
        self.level_head = _head(c, len(self.LEVEL_CLASSES))
        self.centre_head = _head(c, 1)
        # Facing is predicted per bone pixel (local context: where the posterior elements sit)
        # and averaged over the bodies; a pooled global logit learned it far more slowly.
        self.facing_head = _head(c, 1)
        self.global_head = nn.Linear(spec.widths[-1], len(self.GLOBAL_OUTPUTS))
        # Facing needs WHERE things are (posterior elements behind the bodies), which mean
        # pooling throws away: a linear probe on a 4x4 pooled bottleneck keeps the layout.
        self.facing_probe = nn.Linear(spec.widths[-1] * 16, 1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.encoder(x)
        top = self.decoder(feats)
        pooled = feats[-1].mean(dim=(2, 3))
        maps = torch.cat([self.fracture_head(top), self.level_head(top), self.centre_head(top),
                          self.facing_head(top)], 1)
        if maps.shape[-1] != x.shape[-1]:
            maps = F.interpolate(maps, size=x.shape[-2:], mode="bilinear", align_corners=False)
        return {"fracture": maps[:, :4], "level": maps[:, 4:8], "centre": maps[:, 8],
                "facing": maps[:, 9], "global": self.global_head(pooled),
                "facing_probe": self.probe_facing(feats[-1])}

    def probe_facing(self, bottleneck: torch.Tensor) -> torch.Tensor:
        """Logit of "patient faces right" from the bottleneck's coarse spatial layout."""
        return self.facing_probe(F.adaptive_avg_pool2d(bottleneck, 4).flatten(1))[:, 0]


class BodyNet(nn.Module):
    """Per-body U-Net: mask, six landmark heatmaps, fracture logit (see module docstring)."""

    N_LANDMARKS = 6

    def __init__(self, spec: NetSpec) -> None:
        super().__init__()
        self.spec = spec
        self.encoder = Encoder(spec)
        self.decoder = Decoder(spec)
        c = spec.widths[0]
        self.mask_head = _head(c, 1)
        self.landmark_head = _head(c, self.N_LANDMARKS)
        self.fracture_head = nn.Sequential(nn.Linear(spec.widths[-1] + spec.widths[-2], 64),
                                           nn.ReLU(inplace=True), nn.Linear(64, 1))

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.encoder(x)
        top = self.decoder(feats)
        pooled = torch.cat([feats[-1].mean(dim=(2, 3)), feats[-2].amax(dim=(2, 3))], dim=1)
        heat = self.landmark_head(top)
        return {"mask": self.mask_head(top)[:, 0], "heatmaps": heat,
                "landmarks": soft_argmax(heat), "fracture": self.fracture_head(pooled)[:, 0]}


class RibNet(nn.Module):
    """Per-body classifier: does this body carry a rib (thoracic)? See ``models.ribs``.

    An encoder without a decoder; its logit reads a 3x3 pooled bottleneck, because where the
    bright tube starts (at the body's upper posterior corner) matters as much as that there is
    one: a rib of the body above crosses every crop of the thoracolumbar junction."""

    def __init__(self, spec: NetSpec) -> None:
        super().__init__()
        self.spec = spec
        self.encoder = Encoder(spec)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(spec.widths[-1] * 9, 64),
                                  nn.ReLU(inplace=True), nn.Linear(64, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.adaptive_avg_pool2d(self.encoder(x)[-1], 3))[:, 0]


class RibEnsemble(nn.Module):
    """Rib networks trained apart (other films, another case mix) read as one: the mean of their
    logits. Each errs on its own few bodies (one on crushed T12s, the other on some L1s of L6
    columns); averaged, a body must look ribless to both to fall below the L6 rule's limit."""

    def __init__(self, members: list[RibNet]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members]).mean(dim=0)


def soft_argmax(logits: torch.Tensor) -> torch.Tensor:
    """Sub-pixel expected [x, y] (pixel units) of each channel's spatial softmax: (B, C, 2)."""
    b, c, h, w = logits.shape
    prob = torch.softmax(logits.float().reshape(b, c, h * w), dim=-1).reshape(b, c, h, w)
    xs = torch.arange(w, dtype=prob.dtype, device=prob.device)
    ys = torch.arange(h, dtype=prob.dtype, device=prob.device)
    x = (prob.sum(dim=2) * xs).sum(dim=-1)
    y = (prob.sum(dim=3) * ys).sum(dim=-1)
    return torch.stack([x, y], dim=-1)


def landmark_spread(logits: torch.Tensor) -> torch.Tensor:
    """Spread (pixels, root of the spatial variance) of each channel's softmax: (B, C).

    A landmark the network sees sits in a peak 2-6 crop pixels wide; one outside the crop (a
    corner cut off by the field's edge) spreads over the crop.
    """
    b, c, h, w = logits.shape
    prob = torch.softmax(logits.float().reshape(b, c, h * w), dim=-1).reshape(b, c, h, w)
    xs = torch.arange(w, dtype=prob.dtype, device=prob.device)
    ys = torch.arange(h, dtype=prob.dtype, device=prob.device)
    px, py = prob.sum(dim=2), prob.sum(dim=3)
    mx, my = (px * xs).sum(dim=-1), (py * ys).sum(dim=-1)
    var = (px * xs ** 2).sum(dim=-1) - mx ** 2 + (py * ys ** 2).sum(dim=-1) - my ** 2
    return var.clamp(min=0.0).sqrt()


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
