"""The vertebral column in Hounsfield units on one sagittal plane: bodies, discs, canal and arch.

A body cut at lateral offset o from its own midline is the part of its mid-sagittal outline where
|o| is less than half the lateral chord there (``shapes.chord``: rounder in front, flat behind), so
off-midline planes show a shorter body. Its shell, where the in-plane outline or the lateral
surface is closer than the cortex, is cortical bone; endplates are cortical plates spanning the
whole width. The arch is made of pieces that appear only at their own lateral offsets: the spinous
process at the midline, laminae beside it, pedicles and articular pillars at 0.3–0.4 × the body
width, transverse processes further out; between the pedicles the neural foramina show fat.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from vcfviewer.synth.anatomy import DiscPlan, frame_axes, to_world
from vcfviewer.synth.ct_plan import Lateral, PlannedCT
from vcfviewer.synth.ct_render import Grid, coverage, ellipse, paint, polygon
from vcfviewer.synth.shapes import BodyShape, chord, local_grid


@dataclass(frozen=True)
class BoneLook:
    """Study-wide HU of the spine's tissues."""

    trabecular: float  # cancellous bone: 40–250 HU, low in osteoporosis
    cortical: float
    arch: float  # cancellous bone of the posterior elements
    texture: float  # relative contrast of the trabecular texture
    porosis: float
    nucleus: float
    annulus: float
    csf: float
    fat: float
    cement: float


@dataclass(frozen=True)
class Arch:
    """Posterior elements of one vertebra, outlines in the body's local (u, v) mm."""

    pedicle: np.ndarray
    pillar: np.ndarray
    spinous: np.ndarray
    lamina: float  # thickness
    canal_depth: float  # AP depth of the canal at the midline
    root: float  # radius of the exiting nerve root


@dataclass(frozen=True)
class DiscExtra:
    """The disc below a body: bulges and the vacuum cleft / calcification it may hold."""

    bulge: tuple[float, float]  # anterior, posterior (mm)
    vacuum: tuple[float, float, float, float] | None  # u shift, half-length, half-height, lateral half
    calcified: tuple[float, float] | None  # radius, lateral half


@dataclass(frozen=True)
class Blob:
    """A cement deposit: an ellipsoid in local (u, v) and lateral offset from the body centre."""

    centre: tuple[float, float, float]
    axes: tuple[float, float, float]


def sample_look(rng: np.random.Generator, bone: float) -> BoneLook:
    """HU of bone, disc and canal for a study whose trabecular bone fraction is ``bone``."""
    quality = float(np.clip((bone - 0.35) / 0.65, 0.0, 1.0))
    trabecular = float(np.clip(45.0 + 195.0 * quality + rng.normal(0.0, 15.0), 40.0, 260.0))
    nucleus = rng.uniform(65.0, 90.0)
    return BoneLook(
        trabecular=trabecular, cortical=rng.uniform(600.0, 1200.0),
        arch=trabecular * rng.uniform(1.0, 1.3) + rng.uniform(40.0, 140.0),
        texture=rng.uniform(0.25, 0.55), porosis=1.0 - bone, nucleus=nucleus,
        annulus=nucleus + rng.uniform(10.0, 25.0), csf=rng.uniform(5.0, 15.0),
        fat=rng.uniform(-110.0, -70.0), cement=rng.uniform(2000.0, 3000.0))


def _spinous(x_base: float, v_top: float, v_bottom: float, length: float, drop: float,
             tip: float) -> np.ndarray:
    """Spinous process: a plate from the laminae's junction running back (and down by ``drop``),
    narrowing from the base's height to a rounded tip of radius ``tip``."""
    base_mid = (v_top + v_bottom) / 2
    centre = np.array([x_base - length, base_mid + drop])
    t = np.linspace(0.0, 1.0, 8)[:, None]
    bend = t ** 1.4
    top = np.concatenate([x_base - length * t, v_top + (centre[1] - tip - v_top) * bend], axis=1)
    theta = np.linspace(-np.pi / 2, np.pi / 2, 9)[1:-1]
    cap = centre + np.stack([-tip * np.cos(theta), tip * np.sin(theta)], axis=1)
    bottom = np.concatenate([x_base - length * t[::-1], v_bottom + (centre[1] + tip - v_bottom) * bend[::-1]],
                            axis=1)
    return np.concatenate([top, cap, bottom])


def sample_arch(rng: np.random.Generator, shape: BodyShape) -> Arch:
    """Pedicle, articular pillar and spinous outlines sized to the body (jittered)."""
    plan = shape.body.plan
    d, h, x0 = plan.depth, plan.hp, -shape.half
    t_p, b_p = shape.landmarks_local[2, 1], shape.landmarks_local[5, 1]
    thoracic = plan.level.startswith("T")
    ped = rng.uniform(0.4, 0.55) * h
    canal = float(np.clip(0.5 * d, 12.0, 18.0) + rng.normal(0.0, 1.0))
    jitter = 0.04 * h
    pedicle = np.array([[x0 + 0.1 * d, t_p + 0.04 * h], [x0 - canal * 0.75, t_p + 0.02 * h],
                        [x0 - canal * 0.8, t_p + 0.04 * h + ped], [x0 + 0.1 * d, t_p + 0.06 * h + ped]])
    pillar = np.array([[x0 - canal * 0.75, t_p - 0.40 * h], [x0 - canal * 0.65, t_p - 0.12 * h],
                       [x0 - canal * 0.65, t_p + 0.45 * h], [x0 - canal * 0.8, b_p - 0.12 * h],
                       [x0 - canal * 0.95, b_p + 0.3 * h], [x0 - canal * 1.3, b_p + 0.18 * h],
                       [x0 - canal * 1.35, t_p + 0.35 * h], [x0 - canal * 1.15, t_p - 0.28 * h]])
    # lumbar: a broad hatchet-shaped plate; thoracic: long and slanting steeply down
    sp_len = d * (rng.uniform(0.65, 1.0) if thoracic else rng.uniform(0.55, 0.8))
    drop = h * (rng.uniform(0.5, 1.0) if thoracic else rng.uniform(0.0, 0.2))
    tip = h * (rng.uniform(0.12, 0.2) if thoracic else rng.uniform(0.2, 0.3))
    spinous = _spinous(x0 - canal - 1.0, t_p + 0.2 * h, b_p - 0.12 * h, sp_len, drop, tip)
    return Arch(pedicle=pedicle + rng.normal(0.0, jitter, pedicle.shape),
                pillar=pillar + rng.normal(0.0, jitter, pillar.shape), spinous=spinous,
                lamina=rng.uniform(4.0, 7.0), canal_depth=canal, root=rng.uniform(2.0, 3.0))


def sample_disc(rng: np.random.Generator, disc: DiscPlan, depth: float, half_width: float) -> DiscExtra:
    narrow = disc.posterior < 4.0
    vacuum = None
    if disc.vacuum:
        vacuum = (rng.uniform(-0.15, 0.15) * depth, depth * rng.uniform(0.15, 0.35),
                  rng.uniform(0.6, 1.5), half_width * rng.uniform(0.3, 0.7))
    calcified = (rng.uniform(1.0, 2.5), half_width * rng.uniform(0.2, 0.6)) if disc.calcified else None
    return DiscExtra(bulge=(rng.uniform(0.3, 1.5), rng.uniform(0.5, 2.5) * (1.5 if narrow else 1.0)),
                     vacuum=vacuum, calcified=calcified)


def sample_cement(rng: np.random.Generator, shape: BodyShape) -> tuple[Blob, ...]:
    plan = shape.body.plan
    blobs = []
    for _ in range(int(rng.integers(2, 6))):
        blobs.append(Blob(
            centre=(rng.uniform(-0.3, 0.3) * plan.depth, rng.uniform(-0.25, 0.25) * plan.height,
                    rng.normal(0.0, 0.12) * plan.width),
            axes=(rng.uniform(0.15, 0.35) * plan.depth, rng.uniform(0.12, 0.3) * plan.height,
                  rng.uniform(0.15, 0.3) * plan.width)))
    return tuple(blobs)


def section_mask(shape: BodyShape, lateral: Lateral, z: float, xs: np.ndarray,
                 ys: np.ndarray) -> np.ndarray:
    """Truth: pixel centres (world X ``xs``, Y ``ys``) inside the body's section at plane Z (float64)."""
    u, v = local_grid(shape.body, xs, ys)
    ant, post = shape.wall_offsets(v)
    half_ext = np.where(u >= 0, shape.half + ant, shape.half + post)
    return shape.inside(u, v) & (chord(u, half_ext, shape.body.plan.width / 2) > abs(z - lateral.centre))


def body_box(grid: Grid, shape: BodyShape, margin_mm: float) -> tuple[slice, slice] | None:
    outline = shape.outline_local()
    return grid.box(to_world(shape.body, outline[:, 0], outline[:, 1]), margin_mm)


def render_body(canvas: np.ndarray, grid: Grid, shape: BodyShape, lateral: Lateral, z: float,
                look: BoneLook, texture: np.ndarray, cement: tuple[Blob, ...], step_lat: float) -> None:
    """Paint the body's section: textured cancellous bone in a cortical shell, endplates, disease."""
    plan = shape.body.plan
    o = abs(z - lateral.centre)
    box = body_box(grid, shape, 1.0)
    if o >= lateral.half_width + step_lat or box is None:
        return
    u, v = local_grid(shape.body, grid.xs(box[1]), grid.ys(box[0]), np.float32)
    top, bottom = shape.endplates_at(u)
    ant, post = shape.wall_offsets(v)
    d_top, d_bot = v - top, bottom - v
    d_ant, d_post = shape.half + ant - u, u + shape.half + post
    half_ext = np.where(u >= 0, shape.half + ant, shape.half + post)
    d_lat = chord(u, half_ext, plan.width / 2) - o
    step = min(grid.dx, grid.dy)
    cover = coverage(np.minimum(np.minimum(d_top, d_bot), np.minimum(d_ant, d_post)), step)
    cover *= coverage(d_lat, step_lat)
    if not cover.any():
        return
    d_end = np.maximum(np.minimum(d_top, d_bot), 0.0)
    trab = look.trabecular * texture[box] * (1.0 + 0.4 * np.exp(-d_end / 2.0))
    if plan.grade > 0:  # compressed trabeculae under the collapsed endplate: an impaction band
        d = d_top if plan.collapse >= 0.5 else d_bot
        trab *= 1.0 + (0.6 + 0.5 * plan.grade) * np.exp(-np.maximum(d, 0.0) / 3.0)
    d_wall = np.minimum(np.minimum(d_ant, d_post), d_lat)
    hu = trab + (look.cortical - trab) * coverage(plan.cortex - d_wall, step)
    hu += (look.cortical - hu) * coverage(plan.endplate - d_top, step)
    hu += (look.cortical - hu) * coverage(plan.endplate - d_bot, step) * plan.inferior_plate
    if o < 3.0 and not plan.is_sacrum:  # basivertebral vein: a lucent notch in the back wall
        r = np.hypot((u + shape.half) / 2.5, (v - 0.5 * (top + bottom)) / 2.0)
        hu += (40.0 - hu) * coverage((1.0 - r) * 2.0, step)
    if plan.schmorl is not None:
        hu = _schmorl(hu, shape, u, v, o, look, step)
    for blob in cement:
        hu = _cement(hu, blob, u, v, z - lateral.centre, look, step)
    paint(canvas, box, cover, hu)


def _schmorl(hu: np.ndarray, shape: BodyShape, u: np.ndarray, v: np.ndarray, o: float,
             look: BoneLook, step: float) -> np.ndarray:
    """Disc herniated into the body: a rounded pit of disc density with a sclerotic rim."""
    pos, width, depth, superior = shape.body.plan.schmorl  # type: ignore[misc]
    k = 1.0 - (o / max(width, 1e-3)) ** 2
    if k <= 0:
        return hu
    top, bottom = shape.endplates_at(np.array([pos]))
    cv = float(top[0]) + depth / 2 if superior else float(bottom[0]) - depth / 2
    r = np.hypot((u - pos) / (width / 2 * math.sqrt(k)), (v - cv) / (depth / 2 + 0.5))
    scale = min(width / 2, depth / 2 + 0.5) * math.sqrt(k)
    rim = coverage((1.35 - r) * scale, step)
    hu = hu + (look.cortical * 0.7 - hu) * rim
    return hu + (look.nucleus - hu) * coverage((1.0 - r) * scale, step)


def _cement(hu: np.ndarray, blob: Blob, u: np.ndarray, v: np.ndarray, o: float, look: BoneLook,
            step: float) -> np.ndarray:
    (cu, cv, co), (a, b, c) = blob.centre, blob.axes
    k = 1.0 - ((o - co) / c) ** 2
    if k <= 0:
        return hu
    r = np.hypot((u - cu) / (a * math.sqrt(k)), (v - cv) / (b * math.sqrt(k)))
    return hu + (look.cement - hu) * coverage((1.0 - r) * min(a, b) * math.sqrt(k), step)


def render_disc(canvas: np.ndarray, grid: Grid, upper: BodyShape, lower: BodyShape,
                lat: tuple[Lateral, Lateral], extra: DiscExtra, z: float, look: BoneLook,
                step_lat: float) -> None:
    """The disc between two bodies: annulus brighter than the nucleus, bulging a little."""
    o = abs(z - (lat[0].centre + lat[1].centre) / 2)
    half_w = min(lat[0].half_width, lat[1].half_width)
    if o >= half_w:
        return
    up = to_world(upper.body, upper.u[::-1], upper.bottom[::-1])  # anterior → posterior
    low = to_world(lower.body, lower.u, lower.top)  # posterior → anterior
    e_u, _ = frame_axes(upper.body.angle)
    back = (up[-1] + low[0]) / 2 - e_u * extra.bulge[1]
    front = (low[-1] + up[0]) / 2 + e_u * extra.bulge[0]
    poly = np.concatenate([up, back[None], low, front[None]])
    box = grid.box(poly, 0.5)
    if box is None:
        return
    u, v = local_grid(upper.body, grid.xs(box[1]), grid.ys(box[0]), np.float32)
    d_lat = chord(u, np.full_like(u, upper.half), half_w) - o
    cover = polygon(grid, box, poly) * coverage(d_lat, step_lat)
    ring = np.clip(np.abs(u) / upper.half, 0.0, 1.0) ** 2
    hu = look.nucleus + (look.annulus - look.nucleus) * ring
    mid = (to_world(upper.body, 0.0, upper.landmarks_local[4, 1])
           + to_world(lower.body, 0.0, lower.landmarks_local[1, 1])) / 2
    if extra.vacuum is not None and o < extra.vacuum[3]:
        shift, a, b, _ = extra.vacuum
        hit = ellipse(grid, tuple(mid + e_u * shift), (a, b), upper.body.angle + math.pi)
        hu = _blend_sub(hu, box, hit, -850.0, grid)
    if extra.calcified is not None and o < extra.calcified[1]:
        hit = ellipse(grid, tuple(mid + e_u * 0.42 * upper.body.plan.depth),
                      (extra.calcified[0], extra.calcified[0] * 1.6), upper.body.angle)
        hu = _blend_sub(hu, box, hit, look.cortical * 0.6, grid)
    paint(canvas, box, cover, hu)


def _blend_sub(hu: np.ndarray, box: tuple[slice, slice],
               hit: tuple[tuple[slice, slice], np.ndarray] | None, value: float, grid: Grid) -> np.ndarray:
    """Blend ``value`` into ``hu`` (defined on ``box``) where a shape drawn on its own box lies."""
    if hit is None:
        return hu
    (rs, cs), dist = hit
    r0, r1 = max(rs.start, box[0].start), min(rs.stop, box[0].stop)
    c0, c1 = max(cs.start, box[1].start), min(cs.stop, box[1].stop)
    if r0 >= r1 or c0 >= c1:
        return hu
    inner = (slice(r0 - box[0].start, r1 - box[0].start), slice(c0 - box[1].start, c1 - box[1].start))
    sub = dist[r0 - rs.start: r1 - rs.start, c0 - cs.start: c1 - cs.start]
    hu = np.array(hu, dtype=np.float32, copy=True) if np.ndim(hu) else np.full(
        (box[0].stop - box[0].start, box[1].stop - box[1].start), hu, np.float32)
    hu[inner] += (value - hu[inner]) * coverage(sub, min(grid.dx, grid.dy))
    return hu


def bone_polygon(canvas: np.ndarray, grid: Grid, world: np.ndarray, interior: float,
                 cortical: float, rim_mm: float) -> None:
    """A bony piece: cancellous interior inside a cortical rim ``rim_mm`` thick."""
    box = grid.box(world, 0.5)
    if box is None:
        return
    mask = polygon(grid, box, world)
    if not mask.any():
        return
    step = min(grid.dx, grid.dy)
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 3) * step
    hu = interior + (cortical - interior) * coverage(rim_mm - dist + 0.5 * step, step)
    paint(canvas, box, mask, hu)


def _scaled(points: np.ndarray, sx: float, sy: float) -> np.ndarray:
    centre = points.mean(axis=0)
    return centre + (points - centre) * np.array([sx, sy])


def _band(shape: BodyShape, u0: float, u1: float, v0: float, v1: float) -> np.ndarray:
    local = np.array([[u0, v0], [u1, v0], [u1, v1], [u0, v1]])
    return to_world(shape.body, local[:, 0], local[:, 1])


def render_canal(canvas: np.ndarray, grid: Grid, shape: BodyShape, lateral: Lateral, arch: Arch,
                 gaps: tuple[float, float], z: float, look: BoneLook, cord: bool) -> None:
    """Behind the body: the dural sac (CSF, the cord above L1) in epidural fat at the midline,
    the neural foramen (fat, a nerve root) beside it."""
    o = abs(z - lateral.centre)
    x0 = -shape.half
    t_p, b_p = shape.landmarks_local[2, 1], shape.landmarks_local[5, 1]
    v0, v1 = t_p - gaps[0] / 2 - 1.0, b_p + gaps[1] / 2 + 1.0
    if o < lateral.canal:
        depth = arch.canal_depth * (1.0 - 0.45 * (o / lateral.canal) ** 2)
        _fill(canvas, grid, _band(shape, x0 + 0.5, x0 - depth, v0, v1), look.fat)
        dura = 0.75 * lateral.canal
        if o < dura:
            sac = depth * 0.8 * math.sqrt(1.0 - (o / dura) ** 2)
            _fill(canvas, grid, _band(shape, x0 - 0.5, x0 - 0.5 - sac, v0, v1), look.csf)
            if cord and o < 4.5:
                half = 4.0 * math.sqrt(1.0 - (o / 4.5) ** 2)
                mid = x0 - 0.5 - 0.45 * sac
                _fill(canvas, grid, _band(shape, mid + half, mid - half, v0, v1), 35.0)
    elif o < lateral.pillar + lateral.pillar_half:
        _fill(canvas, grid, _band(shape, x0 + 0.5, x0 - arch.canal_depth * 0.85, v0, v1), look.fat)
        h = shape.body.plan.hp
        centre = to_world(shape.body, x0 - 0.2 * arch.canal_depth, arch.pedicle[:, 1].max() + 0.12 * h)
        hit = ellipse(grid, tuple(centre), (arch.root, arch.root * 1.3))
        if hit is not None:
            paint(canvas, hit[0], coverage(hit[1], min(grid.dx, grid.dy)), 35.0)


def _fill(canvas: np.ndarray, grid: Grid, world: np.ndarray, hu: float) -> None:
    box = grid.box(world, 0.5)
    if box is not None:
        paint(canvas, box, polygon(grid, box, world), hu)


def render_arch(canvas: np.ndarray, grid: Grid, shape: BodyShape, lateral: Lateral, arch: Arch,
                z: float, look: BoneLook) -> None:
    """Whichever posterior elements the plane at ``z`` passes through."""
    o = abs(z - lateral.centre)
    plan = shape.body.plan
    world = lambda local: to_world(shape.body, local[:, 0], local[:, 1])  # noqa: E731
    rim = 0.8 if plan.level.startswith("L") else 0.6
    for outline, centre, half in ((arch.pedicle, lateral.pedicle, lateral.pedicle_half),
                                  (arch.pillar, lateral.pillar, lateral.pillar_half)):
        k = 1.0 - ((o - centre) / half) ** 2
        if k > 0:
            s = math.sqrt(k)
            bone_polygon(canvas, grid, world(_scaled(outline, 0.6 + 0.4 * s, 0.4 + 0.6 * s)),
                         look.arch, look.cortical * 0.85, rim)
    if o < lateral.spinous_half:
        s = math.sqrt(1.0 - (o / lateral.spinous_half) ** 2)
        bone_polygon(canvas, grid, world(_scaled(arch.spinous, 1.0, 0.5 + 0.5 * s)), look.arch,
                     look.cortical * 0.85, rim)
    if o < lateral.pillar:
        _lamina(canvas, grid, shape, lateral, arch, o, look, rim)
    if lateral.pillar <= o < lateral.transverse:
        t = (o - lateral.pillar) / (lateral.transverse - lateral.pillar)
        d, h = plan.depth, plan.hp
        u = -shape.half - 0.8 * arch.canal_depth - (0.25 * d * t if plan.level.startswith("T") else 0.0)
        centre = to_world(shape.body, u, shape.landmarks_local[2, 1] + 0.35 * h)
        axes = (0.1 * d * (1 - 0.4 * t), 0.13 * h * (1 - 0.3 * t))
        outline = _ellipse_points(centre, axes, shape.body.angle)
        bone_polygon(canvas, grid, outline, look.arch, look.cortical * 0.8, rim)


def _lamina(canvas: np.ndarray, grid: Grid, shape: BodyShape, lateral: Lateral, arch: Arch,
            o: float, look: BoneLook, rim: float) -> None:
    """The lamina runs from the pillar back to the spinous base: its depth behind the canal
    grows towards the midline."""
    h = shape.body.plan.hp
    t_p, b_p = shape.landmarks_local[2, 1], shape.landmarks_local[5, 1]
    frac = o / max(lateral.pillar, 1e-3)
    front = -shape.half - arch.canal_depth * (1.0 - 0.45 * min(frac, 1.0) ** 2)
    back = front - arch.lamina
    slant = 0.3 * arch.lamina
    # laminae overlap like shingles but leave the interlaminar gap (ligamentum flavum) open
    local = np.array([[front, t_p + 0.2 * h], [back, t_p + 0.2 * h - slant],
                      [back - slant, b_p], [front - slant, b_p + slant]])
    bone_polygon(canvas, grid, to_world(shape.body, local[:, 0], local[:, 1]), look.arch,
                 look.cortical * 0.85, rim)


def _ellipse_points(centre: np.ndarray, axes: tuple[float, float], angle: float, n: int = 20) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    ca, sa = math.cos(angle), math.sin(angle)
    x, y = axes[0] * np.cos(t), axes[1] * np.sin(t)
    return np.stack([centre[0] + x * ca - y * sa, centre[1] + x * sa + y * ca], axis=1)


def render_facets(canvas: np.ndarray, grid: Grid, upper: BodyShape, lateral: Lateral, arch: Arch,
                  z: float) -> None:
    """The facet joint below a vertebra: a thin dark cleft through the articular pillar."""
    o = abs(z - lateral.centre)
    if abs(o - lateral.pillar) >= lateral.pillar_half * 0.8:
        return
    b_p, h = upper.landmarks_local[5, 1], upper.body.plan.hp
    a = np.array([-upper.half - arch.canal_depth * 0.7, b_p - 0.05 * h])
    b = np.array([-upper.half - arch.canal_depth * 1.25, b_p + 0.3 * h])
    line = to_world(upper.body, np.array([a[0], b[0]]), np.array([a[1], b[1]]))
    centre = line.mean(axis=0)
    length = float(np.hypot(*(line[1] - line[0])))
    angle = math.atan2(line[1, 1] - line[0, 1], line[1, 0] - line[0, 0])
    hit = ellipse(grid, tuple(centre), (length / 2, 0.7), angle)
    if hit is not None:
        paint(canvas, hit[0], coverage(hit[1], min(grid.dx, grid.dy)), 20.0)


def spine_box(grid: Grid, planned: PlannedCT) -> tuple[slice, slice]:
    """Columns of the grid the vertebral bodies can reach (for their texture field)."""
    pts = np.concatenate([s.landmarks_world() for s in planned.shapes.values()])
    box = grid.rect(float(pts[:, 0].min()) - 12.0, float(pts[:, 0].max()) + 12.0, grid.y0,
                    grid.y0 + grid.dy * (grid.rows - 1))
    return box if box is not None else (slice(0, grid.rows), slice(0, grid.cols))


def trabecular_texture(vertical: np.ndarray, coarse: np.ndarray, look: BoneLook) -> np.ndarray:
    """Mean-1 texture: fine mottle, vertical striations accentuated in osteoporosis."""
    field = 1.0 + look.texture * ((0.4 + 0.9 * look.porosis) * vertical + 0.6 * coarse)
    return np.clip(field, 0.1, None).astype(np.float32)
