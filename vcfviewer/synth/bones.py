"""Bony structures as projected path lengths: bodies, posterior elements, sacrum, ribs, pelvis.

Bilateral structures (pedicles, facets, ribs, iliac wings) are drawn twice, the far side slightly
magnified and shifted, because that is how the doubled contours of real lateral films arise.
"""

from __future__ import annotations


import numpy as np

from vcfviewer.synth.anatomy import PlacedBody, to_world
from vcfviewer.synth.primitives import (
    MU_CEMENT,
    MU_SOFT,
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
    u, v = local_grid(shape.body, xs, ys, np.float32)
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
    """Outlines (local mm) of the pedicle, the articular pillar (superior articular process, pars,
    inferior articular process) and the lamina with the spinous process."""
    plan = shape.body.plan
    d, h, x0 = plan.depth, plan.hp, -shape.half
    t_p, b_p = shape.landmarks_local[2, 1], shape.landmarks_local[5, 1]
    thoracic = plan.level.startswith("T")
    sp_len = d * rng.uniform(0.4, 0.65) * (0.8 if thoracic else 1.0)
    drop = h * (rng.uniform(0.4, 0.8) if thoracic else rng.uniform(0.0, 0.25))
    sp_h = h * rng.uniform(0.5, 0.7)
    ped = rng.uniform(0.4, 0.55) * h
    return {
        "pedicle": np.array([[x0 + 0.08 * d, t_p + 0.04 * h], [x0 - 0.33 * d, t_p + 0.02 * h],
                             [x0 - 0.36 * d, t_p + 0.04 * h + ped], [x0 + 0.08 * d, t_p + 0.06 * h + ped]]),
        "pillar": np.array([[x0 - 0.40 * d, t_p - 0.40 * h], [x0 - 0.30 * d, t_p - 0.12 * h],
                            [x0 - 0.30 * d, t_p + 0.45 * h], [x0 - 0.40 * d, b_p - 0.12 * h],
                            [x0 - 0.48 * d, b_p + 0.36 * h], [x0 - 0.60 * d, b_p + 0.22 * h],
                            [x0 - 0.64 * d, t_p + 0.35 * h], [x0 - 0.54 * d, t_p - 0.28 * h]]),
        "spinous": _spinous(x0 - 0.58 * d, t_p + 0.05 * h, b_p - 0.02 * h, sp_len, drop, sp_h, rng),
    }


def _spinous(x_base: float, v_top: float, v_bottom: float, length: float, drop: float, height: float,
             rng: np.random.Generator) -> np.ndarray:
    """Lamina + spinous process outline: a plate running back (and down) to a rounded, bulbous tip."""
    tip_r = height / 2 * rng.uniform(0.75, 1.0)
    tip = np.array([x_base - length, v_top + 0.1 * height + drop + tip_r])
    waist = rng.uniform(0.7, 0.95)
    top = _bezier(np.array([x_base, v_top]), np.array([x_base - 0.5 * length, v_top + drop * 0.5 + (1 - waist) * tip_r]),
                  tip + np.array([0.0, -tip_r]), n=12)
    theta = np.linspace(-np.pi / 2, np.pi / 2, 10)[1:-1]
    cap = tip + np.stack([-tip_r * 1.1 * np.cos(theta), tip_r * np.sin(theta)], axis=1)
    bottom = _bezier(tip + np.array([0.0, tip_r]), np.array([x_base - 0.45 * length, v_bottom - (1 - waist) * tip_r]),
                     np.array([x_base - 0.05 * length, v_bottom]), n=12)
    return np.concatenate([top, cap, bottom])


def render_posterior(canvas: Canvas, shape: BodyShape, texture: np.ndarray, bone_mu: float,
                     rng: np.random.Generator, far_shift: np.ndarray) -> None:
    """Pedicles and articular pillars (bilateral, doubled by ``far_shift`` mm), lamina and
    spinous process (midline), transverse processes (dense spots: they run along the beam)."""
    plan = shape.body.plan
    lumbar = plan.level.startswith("L") or plan.level == "S1"
    polys = _posterior_polys(shape, rng)
    widths = {"pedicle": rng.uniform(6.0, 9.0) * (1.0 if lumbar else 0.8), "pillar": rng.uniform(8.0, 12.0)}
    for name in ("pedicle", "pillar"):
        local = _jitter(polys[name], rng, 0.04 * plan.hp)
        world = _smooth_closed(to_world(shape.body, local[:, 0], local[:, 1]), rounds=2)
        for shift in (np.zeros(2), far_shift):
            add_slab(canvas, world + shift, thickness=widths[name], cortex=rng.uniform(0.8, 1.4),
                     trabecular_mu=bone_mu * 1.2, texture=texture)
    sp = polys["spinous"]
    add_slab(canvas, _smooth_closed(to_world(shape.body, sp[:, 0], sp[:, 1]), rounds=1),
             thickness=rng.uniform(4.5, 9.0), cortex=rng.uniform(0.7, 1.5),
             trabecular_mu=bone_mu * rng.uniform(0.6, 1.2), texture=texture)
    tp_len = rng.uniform(12.0, 22.0) * (1.0 if lumbar else 0.6)
    centre = to_world(shape.body, -shape.half - 0.3 * plan.depth, shape.landmarks_local[2, 1] + 0.35 * plan.hp)
    for shift in (np.zeros(2), far_shift):
        add_blob(canvas, tuple(centre + shift), (0.1 * plan.depth, 0.13 * plan.hp), float(shape.body.angle),
                 depth=tp_len, mu=MU_CORTICAL * 0.3)


def render_junctions(canvas: Canvas, placed: list[PlacedBody], shapes: dict[str, BodyShape],
                     discs: list, rng: np.random.Generator) -> None:
    """Between consecutive bodies: the dark intervertebral foramen behind the disc (fat, no bone
    along the beam) and, in degenerated discs, the vacuum phenomenon (gas in the disc) or a
    calcified annulus at the disc's front."""
    for i in range(len(placed) - 1):
        upper, lower = shapes[placed[i].plan.level], shapes[placed[i + 1].plan.level]
        d, h = upper.body.plan.depth, upper.body.plan.hp
        post_low = to_world(upper.body, -upper.half, upper.landmarks_local[5, 1])
        post_up = to_world(lower.body, -lower.half, lower.landmarks_local[2, 1])
        mid = (post_low + post_up) / 2
        e_u = to_world(upper.body, 1.0, 0.0) - to_world(upper.body, 0.0, 0.0)
        centre = mid - e_u * 0.16 * d + (to_world(upper.body, 0.0, -1.0) - to_world(upper.body, 0.0, 0.0)) * 0.2 * h
        add_blob(canvas, tuple(centre), (0.5 * h * rng.uniform(0.8, 1.1), 0.13 * d * rng.uniform(0.8, 1.2)),
                 float(upper.body.angle) + np.pi / 2, depth=rng.uniform(20.0, 45.0), mu=-0.012, power=0.7)
        disc_mid = (to_world(upper.body, 0.0, upper.landmarks_local[4, 1])
                    + to_world(lower.body, 0.0, lower.landmarks_local[1, 1])) / 2
        if discs[i].vacuum:
            add_blob(canvas, tuple(disc_mid + e_u * rng.uniform(-0.15, 0.15) * d),
                     (d * rng.uniform(0.15, 0.35), rng.uniform(0.6, 1.5)), float(upper.body.angle),
                     depth=rng.uniform(10.0, 30.0), mu=-MU_SOFT)
        if discs[i].calcified:
            add_blob(canvas, tuple(disc_mid + e_u * 0.42 * d), (rng.uniform(1.0, 2.5), rng.uniform(2.0, 4.0)),
                     float(upper.body.angle), depth=rng.uniform(8.0, 20.0), mu=MU_CORTICAL * 0.6)


def _sacral_outline(s1: BodyShape, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Centre line and outline (local S1 mm) of the fused sacrum below S1, curving posteriorly."""
    plan = s1.body.plan
    d, h = plan.depth, plan.hp
    start = np.array([0.0, float(s1.landmarks_local[4, 1])])
    length = h * rng.uniform(2.2, 2.9)
    turn = np.radians(rng.uniform(35.0, 70.0))
    t = np.linspace(0.0, 1.0, 24)
    heading = turn * t ** 1.3  # 0 = straight down (local +v); turning towards posterior (−u)
    step = length / (len(t) - 1)
    du = -np.sin(heading) * step
    dv = np.cos(heading) * step
    centre = start + np.stack([np.concatenate([[0], np.cumsum(du[:-1])]),
                               np.concatenate([[0], np.cumsum(dv[:-1])])], axis=1)
    half_thick = d * (0.5 - 0.38 * t)
    normal = np.stack([np.cos(heading), np.sin(heading)], axis=1)  # points anterior-ish
    anterior = centre + normal * half_thick[:, None]
    posterior = centre - normal * half_thick[:, None]
    return centre, np.concatenate([anterior, posterior[::-1]])


def render_sacrum(canvas: Canvas, s1: BodyShape, texture: np.ndarray, bone_mu: float,
                  rng: np.random.Generator, far_shift: np.ndarray) -> None:
    """Fused sacral bodies below S1, the sacral canal's posterior wall and the dense alae."""
    plan = s1.body.plan
    d, h, half = plan.depth, plan.hp, s1.half
    centre, outline = _sacral_outline(s1, rng)
    body = s1.body
    add_slab(canvas, to_world(body, outline[:, 0], outline[:, 1]), thickness=plan.width * rng.uniform(0.35, 0.55),
             cortex=rng.uniform(0.4, 0.8), trabecular_mu=bone_mu * 0.9, texture=texture)
    for k in (5, 10, 15):  # remnants of the fused discs: faint transverse ridges
        a, p = outline[k], outline[len(outline) - 1 - k]
        line = np.stack([np.linspace(a[0], p[0], 8), np.linspace(a[1], p[1], 8)], axis=1)
        add_tube(canvas, to_world(body, line[:, 0], line[:, 1]), radius=1.2, depth=plan.width * 0.3,
                 cortex=0.5, trabecular_mu=0.0, cortical_mu=0.012)
    t_p, t_a = s1.landmarks_local[2, 1], s1.landmarks_local[0, 1]
    ala = np.array([[-half - 0.05 * d, t_p + 0.05 * h], [-half + 0.35 * d, t_a + 0.15 * h],
                    [half - 0.25 * d, t_a + 0.45 * h], [-half + 0.45 * d, t_p + 1.3 * h],
                    [-half - 0.35 * d, t_p + 1.4 * h], [-half - 0.4 * d, t_p + 0.4 * h]])
    world = _smooth_closed(to_world(body, ala[:, 0], ala[:, 1]))
    for shift in (np.zeros(2), far_shift):
        add_slab(canvas, world + shift, thickness=rng.uniform(10.0, 18.0), cortex=0.6,
                 trabecular_mu=bone_mu * 0.8, texture=texture)


def _jitter(points: np.ndarray, rng: np.random.Generator, scale: float) -> np.ndarray:
    """Move each vertex a little: no two vertebrae have the same arch."""
    return points + rng.normal(0.0, scale, points.shape)


def _smooth_closed(points: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Chaikin corner cutting: a polygon with rounded corners (bones have no sharp vertices)."""
    pts = np.asarray(points, dtype=np.float64)
    for _ in range(rounds):
        nxt = np.roll(pts, -1, axis=0)
        pts = np.stack([0.75 * pts + 0.25 * nxt, 0.25 * pts + 0.75 * nxt], axis=1).reshape(-1, 2)
    return pts


def _bezier(*points: np.ndarray, n: int = 40) -> np.ndarray:
    """Bezier curve through control points (quadratic or cubic)."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    if len(points) == 3:
        p0, p1, p2 = points
        return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t ** 2 * p2
    p0, p1, p2, p3 = points
    return (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t ** 2 * p2 + t ** 3 * p3


def _magnify(points: np.ndarray, centre: np.ndarray, kappa: float, shift: np.ndarray) -> np.ndarray:
    return centre + (points - centre) * (1.0 + kappa) + shift


def render_ribs(canvas: Canvas, shapes: dict[str, BodyShape], rng: np.random.Generator,
                centre: np.ndarray, kappa: float) -> None:
    """Lower ribs: back from the costovertebral joint to the rib angle, then curving down and
    forward round the flank (tangential at the angle, hence brightest there)."""
    lengths = {"T7": 1.6, "T8": 1.55, "T9": 1.45, "T10": 1.3, "T11": 0.85, "T12": 0.5}
    for level, length in lengths.items():
        shape = shapes.get(level)
        if shape is None:
            continue
        plan = shape.body.plan
        length *= rng.uniform(0.8, 1.2)
        p0 = to_world(shape.body, -shape.half + 2.0, shape.landmarks_local[2, 1] + 0.2 * plan.hp)
        back = rng.uniform(30.0, 55.0) * min(1.0, length + 0.2)
        p1 = p0 + np.array([back, rng.uniform(5.0, 20.0)])
        p2 = p1 + np.array([rng.uniform(-10.0, 15.0), rng.uniform(40.0, 80.0)]) * length
        p3 = p0 + np.array([rng.uniform(-150.0, -50.0), rng.uniform(80.0, 150.0)]) * length
        line = _bezier(p0, p1, p2, p3, n=60)
        radius, depth = rng.uniform(2.5, 4.0), rng.uniform(4.0, 8.0)
        for side in range(2):
            pts = line if side == 0 else _magnify(line, centre, kappa, rng.normal(0, 4.0, 2))
            add_tube(canvas, pts, radius=radius, depth=depth, cortex=1.0, trabecular_mu=0.006)


def _ilium(s1: BodyShape, l5: BodyShape, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """World outline of one iliac bone (crest, wing, sciatic notch) and its pelvic brim line."""
    plan = s1.body.plan
    psis = to_world(s1.body, -s1.half - rng.uniform(15.0, 40.0), s1.landmarks_local[2, 1] + plan.hp * rng.uniform(0.5, 1.2))
    apex = to_world(l5.body, -l5.half + l5.body.plan.depth * rng.uniform(0.1, 0.6),
                    l5.landmarks_local[5, 1] + l5.body.plan.hp * rng.uniform(-0.9, 0.3))
    asis = to_world(s1.body, s1.half + rng.uniform(35.0, 80.0), s1.landmarks_local[0, 1] + plan.hp * rng.uniform(-0.2, 0.8))
    crest = np.concatenate([_bezier(psis, np.array([psis[0] + 5.0, apex[1] + 10.0]), apex, n=20),
                            _bezier(apex, np.array([asis[0] + 25.0, apex[1] - 5.0]), asis, n=20)[1:]])
    aiis = asis + np.array([rng.uniform(5.0, 20.0), rng.uniform(25.0, 45.0)])
    acetab = aiis + np.array([rng.uniform(10.0, 30.0), rng.uniform(60.0, 90.0)])
    notch_top = psis + np.array([rng.uniform(-5.0, 10.0), rng.uniform(30.0, 50.0)])
    notch = notch_top + np.array([-rng.uniform(25.0, 45.0), rng.uniform(40.0, 60.0)])
    spine = notch + np.array([rng.uniform(0.0, 15.0), rng.uniform(30.0, 50.0)])
    outline = np.concatenate([crest, _bezier(asis, aiis, acetab, n=12)[1:],
                              [spine + np.array([-10.0, 40.0])], _bezier(spine, notch, notch_top, n=12),
                              [psis]])
    brim_start = to_world(s1.body, s1.half * rng.uniform(-0.2, 0.5), s1.landmarks_local[3, 1] + plan.hp * rng.uniform(0.2, 0.7))
    brim = _bezier(brim_start, brim_start + np.array([-rng.uniform(20.0, 40.0), rng.uniform(25.0, 40.0)]),
                   acetab + np.array([-rng.uniform(10.0, 30.0), 0.0]), n=20)
    return {"outline": outline, "crest": crest, "brim": brim}


def render_pelvis(canvas: Canvas, shapes: dict[str, BodyShape], rng: np.random.Generator,
                  centre: np.ndarray, kappa: float, bone_mu: float, texture: np.ndarray) -> float:
    """Both iliac bones (the far one magnified): crests crossing L4–L5, thin wings with bright
    rims, the pelvic brim line. Returns the crest's highest world y (mm)."""
    s1 = shapes["S1"]
    l5 = shapes.get("L6") or shapes.get("L5") or s1
    ilium = _ilium(s1, l5, rng)
    wing_t, crest_r, crest_d = rng.uniform(6.0, 14.0), rng.uniform(2.0, 3.5), rng.uniform(2.5, 6.0)
    for side in range(2):
        shift = np.zeros(2) if side == 0 else rng.normal(0, 6.0, 2)
        def place(points: np.ndarray) -> np.ndarray:
            return points if side == 0 else _magnify(points, centre, kappa, shift)
        add_slab(canvas, place(ilium["outline"]), thickness=wing_t, cortex=rng.uniform(0.5, 1.1),
                 trabecular_mu=bone_mu * 0.7, texture=texture)
        add_tube(canvas, place(ilium["crest"]), radius=crest_r, depth=crest_d, cortex=1.2, trabecular_mu=bone_mu)
        add_tube(canvas, place(ilium["brim"]), radius=rng.uniform(1.0, 1.8), depth=rng.uniform(3.0, 6.0),
                 cortex=0.7, trabecular_mu=bone_mu)
    return float(ilium["crest"][:, 1].min())
