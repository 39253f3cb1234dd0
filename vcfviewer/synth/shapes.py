"""The contour of a vertebral body in its local frame, its six landmarks, mask and path lengths.

In the local frame (mm; u anterior, v caudal) a body is bounded by the superior endplate
v = top(u), the inferior endplate v = bottom(u) and the anterior/posterior walls. Each endplate is a
straight line through its two corner landmarks, plus a concavity bump that is zero at the corners
and deepest at u = 0 (the middle landmark, CLINICAL §2), plus a quarter-circle corner rounding, plus
irregularities built from sines that vanish at all three landmark positions. So the landmark
heights are exactly the planned Ha/Hm/Hp whatever the deformation, and every landmark lies on the
contour (corners at the 45° point of the rounded corner, where a reader clicks).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vcfviewer.synth.anatomy import BodyPlan, PlacedBody, endplate_lines, frame_axes

N_PROFILE = 257


@dataclass(frozen=True)
class BodyShape:
    """Sampled endplate profiles of one placed body plus the wall offsets; all in local mm."""

    body: PlacedBody
    u: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    landmarks_local: np.ndarray  # (6, 2) [u, v] in LANDMARK_NAMES order

    @property
    def half(self) -> float:
        return self.body.plan.depth / 2.0

    def wall_offsets(self, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Outward offset (mm) of the anterior and posterior walls at local heights ``v``."""
        plan = self.body.plan
        t_a, b_a = self.top[-1], self.bottom[-1]
        t_p, b_p = self.top[0], self.bottom[0]
        s_a = np.sin(np.pi * np.clip((v - t_a) / max(b_a - t_a, 1e-6), 0.0, 1.0))
        s_p = np.sin(np.pi * np.clip((v - t_p) / max(b_p - t_p, 1e-6), 0.0, 1.0))
        # a collapsed superior endplate buckles the anterior cortex just below it
        ant = plan.bulge * s_a ** 2 * (1.2 - 0.4 * s_a) - plan.waist * s_a
        retro = plan.bulge * 0.4 if plan.ftype == "crush" else 0.0
        post = (retro - plan.post_concavity) * s_p
        return ant, post

    def endplates_at(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        uc = np.clip(u, self.u[0], self.u[-1])
        return np.interp(uc, self.u, self.top), np.interp(uc, self.u, self.bottom)

    def inside(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Boolean: local points inside the body contour."""
        top, bottom = self.endplates_at(u)
        ant, post = self.wall_offsets(v)
        return (v >= top) & (v <= bottom) & (u <= self.half + ant) & (u >= -self.half - post)

    def landmarks_world(self) -> np.ndarray:
        """(6, 2) world mm [x, y] of the landmarks."""
        e_u, e_v = frame_axes(self.body.angle)
        lm = self.landmarks_local
        return np.asarray(self.body.centre) + lm[:, :1] * e_u + lm[:, 1:] * e_v

    def outline_local(self, n: int = 96) -> np.ndarray:
        """Closed polygon (k, 2) [u, v] following the contour, for drawing and bounding boxes."""
        v_a = np.linspace(self.top[-1], self.bottom[-1], n // 4)
        v_p = np.linspace(self.bottom[0], self.top[0], n // 4)
        ant, _ = self.wall_offsets(v_a)
        _, post = self.wall_offsets(v_p)
        step = max(1, len(self.u) // (n // 4))
        top = np.stack([self.u[::step], self.top[::step]], axis=1)
        right = np.stack([self.half + ant, v_a], axis=1)
        bottom = np.stack([self.u[::-step], self.bottom[::-step]], axis=1)
        left = np.stack([-self.half - post, v_p], axis=1)
        return np.concatenate([top, right, bottom, left])


def _sines(u: np.ndarray, span: float, amps: tuple[float, ...]) -> np.ndarray:
    """Sum of sines vanishing at u = 0 and u = ±span (the three landmark positions)."""
    out = np.zeros_like(u)
    x = np.clip(u / span, -1.0, 1.0)
    for k, a in enumerate(amps, start=1):
        out += a * np.sin(k * np.pi * x)
    return out


def _rounding(u: np.ndarray, half: float, r: float) -> np.ndarray:
    """Quarter-circle corner rounding (mm pushed into the body) near both walls."""
    d = np.maximum(np.abs(u) - (half - r), 0.0)
    return r - np.sqrt(np.maximum(r * r - d * d, 0.0))


def build_shape(body: PlacedBody) -> BodyShape:
    """Sample the contour of ``body`` and place its six landmarks on it."""
    plan = body.plan
    lines = endplate_lines(plan)
    half, r = plan.depth / 2.0, plan.corner_r
    u_a, u_p = lines["u_a"], lines["u_p"]
    u = np.linspace(-half, half, N_PROFILE)
    frac = (u - u_p) / (u_a - u_p)
    t_lin = lines["t_p"] + (lines["t_a"] - lines["t_p"]) * frac
    b_lin = lines["b_p"] + (lines["b_a"] - lines["b_p"]) * frac
    span = u_a
    bump = np.clip(1.0 - (u / span) ** 2, 0.0, None) ** plan.concavity_power
    concavity = (lines["b_a"] - lines["t_a"] + lines["b_p"] - lines["t_p"]) / 2 - plan.hm
    rounding = _rounding(u, half, r)
    top = t_lin + plan.top_share * concavity * bump + rounding + _sines(u, span, plan.irregularity)
    bottom = (b_lin - (1 - plan.top_share) * concavity * bump - rounding
              - _sines(u, span, plan.irregularity_inf))
    # keep a sliver of body everywhere, whatever the irregularities did
    bottom = np.maximum(bottom, top + 0.5)
    lm_u = np.array([u_a, 0.0, u_p])
    lm = np.concatenate([
        np.stack([lm_u, np.interp(lm_u, u, top)], axis=1),
        np.stack([lm_u, np.interp(lm_u, u, bottom)], axis=1),
    ])
    # the middle landmark sits exactly at a sample (N_PROFILE is odd), corners are interpolated
    # between samples of a smooth curve: recompute them from the analytic expressions
    for row, uu in enumerate((u_a, 0.0, u_p)):
        lm[row, 1] = _endplate_value(plan, lines, uu, top=True)
        lm[row + 3, 1] = _endplate_value(plan, lines, uu, top=False)
    return BodyShape(body=body, u=u, top=top, bottom=bottom, landmarks_local=lm)


def _endplate_value(plan: BodyPlan, lines: dict[str, float], uu: float, top: bool) -> float:
    """Exact endplate v at a landmark position (bump and sines vanish or peak there)."""
    frac = (uu - lines["u_p"]) / (lines["u_a"] - lines["u_p"])
    concavity = (lines["b_a"] - lines["t_a"] + lines["b_p"] - lines["t_p"]) / 2 - plan.hm
    bump = 1.0 if abs(uu) < 1e-12 else 0.0
    rounding = float(_rounding(np.array([uu]), plan.depth / 2.0, plan.corner_r)[0])
    if top:
        lin = lines["t_p"] + (lines["t_a"] - lines["t_p"]) * frac
        return lin + plan.top_share * concavity * bump + rounding
    lin = lines["b_p"] + (lines["b_a"] - lines["b_p"]) * frac
    return lin - (1 - plan.top_share) * concavity * bump - rounding


def chord(u: np.ndarray, half_ext: np.ndarray, width: float) -> np.ndarray:
    """Lateral path length (mm) through the body's cross-section at AP position u: elliptic in
    front (u > 0), a flat-sided super-ellipse (power 4) behind, where the posterior wall is."""
    x2 = np.minimum(u * u / np.maximum(half_ext * half_ext, 1e-9), 1.0)
    front = np.sqrt(1.0 - x2)
    back = np.sqrt(np.sqrt(1.0 - x2 * x2))
    return width * np.where(u >= 0, front, back)


def body_path_lengths(shape: BodyShape, u: np.ndarray, v: np.ndarray,
                      width: float) -> tuple[np.ndarray, np.ndarray]:
    """(cortical, trabecular) path lengths in mm through the body at local points (u, v).

    The cross-section is super-elliptic (rounder anteriorly, flat posterior wall), so the thin
    cortical shell seen edge-on outlines the walls. Each endplate is a plate spanning the whole
    width, but saddle-shaped: seen from the side it is smeared over ``endplate_spread`` mm, which
    makes it a bright band rather than a hairline. The sacrum's inferior "endplate" is fused (faint).
    """
    plan = shape.body.plan
    top, bottom = shape.endplates_at(u)
    ant, post = shape.wall_offsets(v)
    inside = (v >= top) & (v <= bottom) & (u <= shape.half + ant) & (u >= -shape.half - post)
    half_ext = np.where(u >= 0, shape.half + ant, shape.half + post)
    outer = chord(u, half_ext, width)
    s = plan.cortex
    inner_ext = np.maximum(half_ext - s, 1e-3)
    inner = np.where(np.abs(u) < inner_ext, chord(u, inner_ext, max(width - 2 * s, 1.0)), 0.0)
    d_top, d_bot = v - top, bottom - v
    band = plan.endplate + plan.endplate_spread
    plate = outer * (plan.endplate / band)
    cortical = (outer - inner) + plate * (d_top < band) + plate * (d_bot < band) * plan.inferior_plate
    d_end = np.minimum(d_top, d_bot)
    # subchondral sclerosis: denser trabeculae just inside each endplate
    trabecular = inner * (d_end > plan.endplate * 0.5) * (1.0 + 0.5 * np.exp(-np.maximum(d_end, 0.0) / 2.0))
    return np.where(inside, cortical, 0.0), np.where(inside, trabecular, 0.0)


def local_grid(body: PlacedBody, xs: np.ndarray, ys: np.ndarray,
               dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Local (u, v) of world points given as broadcastable x and y arrays (mm).

    Rendering asks for float32 (plenty for path lengths, twice as fast); the truth mask keeps
    float64 so that contours and landmarks agree to the last digit."""
    e_u, e_v = frame_axes(body.angle)
    dx = (xs - body.centre[0]).astype(dtype)
    dy = (ys - body.centre[1]).astype(dtype)
    return dx * dtype(e_u[0]) + dy * dtype(e_u[1]), dx * dtype(e_v[0]) + dy * dtype(e_v[1])
