"""Bony structures as projected path lengths: bodies, posterior elements, sacrum, ribs, pelvis.

Bilateral structures (pedicles, facets, ribs, iliac wings) are drawn twice, the far side slightly
magnified and shifted, because that is how the doubled contours of real lateral films arise.
"""

from __future__ import annotations

import math

import numpy as np

from vcfviewer.synth.anatomy import PlacedBody, to_world
from vcfviewer.synth.primitives import (
    MU_CEMENT,
    MU_CORTICAL,
    Canvas,
    add_blob,
    add_slab,
    add_tube,
)
from vcfviewer.synth.shapes import BodyShape, body_path_lengths, local_grid


def body_box(canvas: Canvas, shape: BodyShape, margin_mm: float) -> tuple[slice, slice] | None:
    outline = shape.outline_local()
    return canvas.bbox(to_world(shape.body, outline[:, 0], outline[:, 1]), margin_mm=margin_mm)


def body_mask(canvas: Canvas, shape: BodyShape) -> tuple[tuple[slice, slice], np.ndarray] | None:
    """Pixels whose centres lie inside the body contour (the ground-truth mask), in a box."""
    box = body_box(canvas, shape, margin_mm=2 * canvas.spacing)
    if box is None:
        return None
    xs, ys = canvas.world_grid(box)
    u, v = local_grid(shape.body, xs, ys)
    return box, shape.inside(u, v)


def render_body(canvas: Canvas, shape: BodyShape, texture: np.ndarray, bone_mu: float,
                rng: np.random.Generator) -> None:
    """Add one vertebral body (two half-bodies offset by the parallax → double contours)."""
    plan = shape.body.plan
    margin = 3.0 + float(np.max(np.abs(plan.parallax))) + max(plan.osteophytes)
    box = body_box(canvas, shape, margin_mm=margin)
    if box is None:
        return
    xs, ys = canvas.world_grid(box)
    u, v = local_grid(shape.body, xs, ys)
    du, dv = plan.parallax
    cort = np.zeros(u.shape)
    trab = np.zeros(u.shape)
    for sign in (1.0, -1.0):
        c, t = body_path_lengths(shape, u - sign * du / 2, v - sign * dv / 2, plan.width / 2)
        cort += c
        trab += t
    if plan.grade > 0:
        # compressed trabeculae under the collapsed endplate: a dense impaction band
        top, bottom = shape.endplates_at(u)
        d = (v - top) if plan.collapse >= 0.5 else (bottom - v)
        trab *= 1.0 + (0.6 + 0.5 * plan.grade) * np.exp(-np.maximum(d, 0.0) / 3.0)
    atten = MU_CORTICAL * cort + bone_mu * trab * texture[box]
    if plan.schmorl is not None:
        atten += _schmorl(shape, u, v, bone_mu)
    if plan.cement:
        atten += _cement(shape, u, v, rng)
    canvas.atten[box] += atten.astype(np.float32)
    _osteophytes(canvas, shape)


def _schmorl(shape: BodyShape, u: np.ndarray, v: np.ndarray, bone_mu: float) -> np.ndarray:
    """A node of disc in the body: lucent pit under the endplate with a sclerotic rim."""
    pos, width, depth, superior = shape.body.plan.schmorl  # type: ignore[misc]
    top, bottom = shape.endplates_at(np.array([pos]))
    centre_v = float(top[0]) + depth / 2 if superior else float(bottom[0]) - depth / 2
    a, b = width / 2, depth / 2 + 0.5
    r2 = ((u - pos) / a) ** 2 + ((v - centre_v) / b) ** 2
    lateral = width  # the node is roughly spherical: its lateral extent matches its width
    pit = lateral * np.sqrt(np.clip(1.0 - r2, 0.0, None))
    rim = lateral * np.sqrt(np.clip(1.3 ** 2 - r2, 0.0, None)) - pit * 1.0
    rim = np.where(r2 < 1.3 ** 2, rim, 0.0) * 0.35
    return -(bone_mu * 1.5 + MU_CORTICAL * 0.15) * pit + MU_CORTICAL * 0.5 * rim


def _cement(shape: BodyShape, u: np.ndarray, v: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    plan = shape.body.plan
    inside = shape.inside(u, v)
    total = np.zeros(u.shape)
    for _ in range(int(rng.integers(2, 6))):
        cu = rng.uniform(-0.3, 0.3) * plan.depth
        cv = rng.uniform(-0.25, 0.25) * plan.height
        a = rng.uniform(0.15, 0.35) * plan.depth
        b = rng.uniform(0.12, 0.3) * plan.height
        r2 = ((u - cu) / a) ** 2 + ((v - cv) / b) ** 2
        total = np.maximum(total, plan.width * rng.uniform(0.3, 0.6) * np.sqrt(np.clip(1 - r2, 0, None)))
    return MU_CEMENT * total * inside


def _osteophytes(canvas: Canvas, shape: BodyShape) -> None:
    plan = shape.body.plan
    half = shape.half
    for length, superior in ((plan.osteophytes[0], True), (plan.osteophytes[1], False)):
        if length < 0.8:
            continue
        top, bottom = shape.endplates_at(np.array([half - 3.0, half]))
        sign = -1.0 if superior else 1.0
        base = (top if superior else bottom)
        pts = np.array([
            [half - 3.0, base[0] - sign * 0.3],
            [half + 0.35 * length, base[1] + sign * 0.6 * length],
            [half + 0.2 * length, base[1] + sign * length],
            [half + 0.6, base[1] - sign * 3.5],
        ])
        world = to_world(shape.body, pts[:, 0], pts[:, 1])
        add_slab(canvas, world, thickness=plan.width * 0.35, cortex=0.7, trabecular_mu=0.008)


def _ellipse(cu: float, cv: float, a: float, b: float, n: int = 24) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cu + a * np.cos(t), cv + b * np.sin(t)], axis=1)


def _posterior_polys(shape: BodyShape, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Outlines (local mm) of pedicle, articular processes, lamina + spinous process."""
    plan = shape.body.plan
    d, h, half = plan.depth, plan.hp, shape.half
    t_p, b_p = shape.landmarks_local[2, 1], shape.landmarks_local[5, 1]
    thoracic = plan.level.startswith("T")
    sp_len = d * rng.uniform(0.75, 1.0) * (0.85 if thoracic else 1.0)
    drop = h * (rng.uniform(0.5, 0.9) if thoracic else rng.uniform(0.05, 0.3))
    x0 = -half
    return {
        "pedicle": _ellipse(x0 - 0.16 * d, t_p + 0.33 * h, 0.24 * d, 0.2 * h * rng.uniform(0.9, 1.15)),
        "sap": np.array([[x0 - 0.30 * d, t_p + 0.2 * h], [x0 - 0.34 * d, t_p - 0.28 * h],
                         [x0 - 0.44 * d, t_p - 0.40 * h], [x0 - 0.58 * d, t_p - 0.2 * h],
                         [x0 - 0.60 * d, t_p + 0.4 * h], [x0 - 0.42 * d, t_p + 0.55 * h]]),
        "iap": np.array([[x0 - 0.50 * d, t_p + 0.35 * h], [x0 - 0.78 * d, t_p + 0.25 * h],
                         [x0 - 0.84 * d, b_p + 0.18 * h], [x0 - 0.72 * d, b_p + 0.40 * h],
                         [x0 - 0.63 * d, b_p + 0.30 * h], [x0 - 0.60 * d, b_p - 0.15 * h]]),
        "spinous": np.array([[x0 - 0.72 * d, t_p + 0.05 * h], [x0 - 0.72 * d - sp_len, t_p + 0.2 * h + drop],
                             [x0 - 0.78 * d - sp_len, t_p + 0.55 * h + drop],
                             [x0 - 0.70 * d - sp_len, t_p + 0.85 * h + drop],
                             [x0 - 0.82 * d, b_p - 0.1 * h], [x0 - 0.66 * d, b_p - 0.25 * h]]),
    }


def render_posterior(canvas: Canvas, shape: BodyShape, texture: np.ndarray, bone_mu: float,
                     rng: np.random.Generator, far_shift: np.ndarray) -> None:
    """Pedicles, facets (bilateral, doubled by ``far_shift`` mm), lamina and spinous process."""
    plan = shape.body.plan
    lumbar = plan.level.startswith("L") or plan.level == "S1"
    polys = _posterior_polys(shape, rng)
    widths = {"pedicle": rng.uniform(6.5, 10.0) * (1.0 if lumbar else 0.8),
              "sap": rng.uniform(7.0, 11.0), "iap": rng.uniform(7.0, 11.0)}
    for name in ("pedicle", "sap", "iap"):
        local = polys[name]
        world = to_world(shape.body, local[:, 0], local[:, 1])
        for shift in (np.zeros(2), far_shift):
            add_slab(canvas, world + shift, thickness=widths[name], cortex=rng.uniform(0.9, 1.6),
                     trabecular_mu=bone_mu * 1.2, texture=texture)
    sp = polys["spinous"]
    add_slab(canvas, to_world(shape.body, sp[:, 0], sp[:, 1]), thickness=rng.uniform(5.0, 9.0),
             cortex=rng.uniform(0.8, 1.3), trabecular_mu=bone_mu, texture=texture)
    # transverse processes run along the beam: short in the image, long path → dense spot
    tp_len = rng.uniform(12.0, 22.0) * (1.0 if lumbar else 0.6)
    centre = to_world(shape.body, -shape.half - 0.3 * plan.depth, shape.landmarks_local[2, 1] + 0.45 * plan.hp)
    for shift in (np.zeros(2), far_shift):
        add_blob(canvas, tuple(centre + shift), (0.11 * plan.depth, 0.12 * plan.hp), plan_angle(shape),
                 depth=tp_len, mu=MU_CORTICAL * 0.35)


def plan_angle(shape: BodyShape) -> float:
    return float(shape.body.angle)


def sacral_segments(s1: PlacedBody, rng: np.random.Generator) -> list[PlacedBody]:
    """S2–S4 as ever smaller fused segments curving posteriorly (kyphotic) below S1."""
    from dataclasses import replace

    segs: list[PlacedBody] = []
    prev = s1
    for k, scale in enumerate((0.8, 0.62, 0.48), start=2):
        plan = replace(s1.plan, level="S1", depth=s1.plan.depth * scale, width=s1.plan.width * scale,
                       ha=s1.plan.ha * scale * 0.85, hm=s1.plan.hm * scale * 0.85 - 0.3,
                       hp=s1.plan.hp * scale * 0.85, ha0=s1.plan.ha * scale * 0.85,
                       hp0=s1.plan.hp * scale * 0.85, parallax=(0.0, 0.0), osteophytes=(0.0, 0.0),
                       schmorl=None, cement=False)
        angle = prev.angle + math.radians(rng.uniform(12.0, 22.0))
        gap = rng.uniform(1.0, 2.5)
        # step down along the previous segment's caudal axis, keeping the posterior walls aligned
        prev_bottom = to_world(prev, -prev.plan.depth / 2 + plan.depth / 2, prev.plan.hp / 2 + gap)
        centre = prev_bottom + (plan.hp / 2) * np.array([-math.sin(angle), math.cos(angle)])
        seg = PlacedBody(plan, (float(centre[0]), float(centre[1])), angle)
        segs.append(seg)
        prev = seg
    return segs


def render_sacral_mass(canvas: Canvas, s1: BodyShape, texture: np.ndarray, bone_mu: float,
                       rng: np.random.Generator, far_shift: np.ndarray) -> None:
    """Sacral ala and the fused posterior elements (median crest) around S1–S3."""
    plan = s1.body.plan
    d, h = plan.depth, plan.hp
    t_p = s1.landmarks_local[2, 1]
    half = s1.half
    ala = np.array([[-half + 0.1 * d, t_p - 0.05 * h], [-half - 0.25 * d, t_p - 0.2 * h],
                    [-half - 0.55 * d, t_p + 0.2 * h], [-half - 0.55 * d, t_p + 1.6 * h],
                    [-half - 0.1 * d, t_p + 2.2 * h], [-half + 0.45 * d, t_p + 1.2 * h],
                    [-half + 0.5 * d, t_p + 0.3 * h]])
    world = to_world(s1.body, ala[:, 0], ala[:, 1])
    for shift in (np.zeros(2), far_shift):
        add_slab(canvas, world + shift, thickness=rng.uniform(14.0, 22.0), cortex=1.5,
                 trabecular_mu=bone_mu * 0.9, texture=texture)
    crest = np.array([[-half - 0.35 * d, t_p + 0.1 * h], [-half - 0.75 * d, t_p + 0.3 * h],
                      [-half - 0.7 * d, t_p + 2.3 * h], [-half - 0.4 * d, t_p + 2.6 * h],
                      [-half - 0.3 * d, t_p + 1.2 * h]])
    add_slab(canvas, to_world(s1.body, crest[:, 0], crest[:, 1]), thickness=rng.uniform(8.0, 14.0),
             cortex=1.2, trabecular_mu=bone_mu, texture=texture)


def _bezier(p0: np.ndarray, p1: np.ndarray, p2: np.ndarray, n: int = 40) -> np.ndarray:
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2


def _magnify(points: np.ndarray, centre: np.ndarray, kappa: float, shift: np.ndarray) -> np.ndarray:
    return centre + (points - centre) * (1.0 + kappa) + shift


def render_ribs(canvas: Canvas, shapes: dict[str, BodyShape], rng: np.random.Generator,
                centre: np.ndarray, kappa: float) -> None:
    """Lower ribs from their costovertebral joints sweeping down and forward across the film."""
    for level in ("T8", "T9", "T10", "T11", "T12"):
        shape = shapes.get(level)
        if shape is None:
            continue
        plan = shape.body.plan
        length = {"T8": 1.6, "T9": 1.5, "T10": 1.35, "T11": 0.9, "T12": 0.55}[level] * rng.uniform(0.8, 1.2)
        p0 = to_world(shape.body, -shape.half + 1.0, shape.landmarks_local[2, 1] + 0.15 * plan.hp)
        p1 = p0 + np.array([rng.uniform(25, 45), rng.uniform(5, 25)])
        p2 = p0 + np.array([rng.uniform(-140, -40), rng.uniform(70, 130)]) * length
        line = _bezier(p0, p1, p2)
        radius, depth = rng.uniform(3.5, 5.5), rng.uniform(8.0, 16.0)
        for side in range(2):
            pts = line if side == 0 else _magnify(line, centre, kappa, rng.normal(0, 4.0, 2))
            add_tube(canvas, pts, radius=radius, depth=depth, cortex=1.0, trabecular_mu=0.006)


def render_pelvis(canvas: Canvas, shapes: dict[str, BodyShape], rng: np.random.Generator,
                  centre: np.ndarray, kappa: float, bone_mu: float, texture: np.ndarray) -> float:
    """Iliac wings whose crests cross L4–L5; returns the crest's highest world y (mm)."""
    s1, l5 = shapes["S1"], shapes.get("L5") or shapes.get("L6")
    anchor = l5 if l5 is not None else s1
    plan = anchor.body.plan
    top_level = rng.uniform(-0.3, 0.9)  # crest apex from mid-L4 (−) to L5–S1 (+), in L5 heights
    apex = to_world(anchor.body, -0.1 * plan.depth, (top_level - 0.5) * plan.hp)
    psis = to_world(s1.body, -s1.half - rng.uniform(25, 50), s1.body.plan.hp * rng.uniform(0.6, 1.4))
    asis = apex + np.array([-rng.uniform(70, 120), rng.uniform(30, 60)])
    crest = np.concatenate([_bezier(psis, np.array([psis[0] - 10, apex[1] - 5]), apex, 20),
                            _bezier(apex, np.array([asis[0] + 30, apex[1] - 8]), asis, 20)[1:]])
    bottom = max(canvas.origin[1] + canvas.shape[0] * canvas.spacing, apex[1] + 200) + 50
    wing = np.concatenate([crest, [[asis[0] + 15, bottom], [psis[0] + 10, bottom]]])
    for side in range(2):
        shift = np.zeros(2) if side == 0 else rng.normal(0, 6.0, 2)
        poly = wing if side == 0 else _magnify(wing, centre, kappa, shift)
        line = crest if side == 0 else _magnify(crest, centre, kappa, shift)
        add_slab(canvas, poly, thickness=rng.uniform(8.0, 16.0), cortex=rng.uniform(1.0, 2.0),
                 trabecular_mu=bone_mu * 0.8, texture=texture)
        add_tube(canvas, line, radius=rng.uniform(2.5, 4.5), depth=rng.uniform(8.0, 16.0), cortex=1.2,
                 trabecular_mu=bone_mu)
    return float(apex[1])
