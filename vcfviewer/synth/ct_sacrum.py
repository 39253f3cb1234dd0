"""Sacrum, ribs and pubis on a sagittal CT plane.

The sacrum below the S1 body is a curved plate in S1's local frame, layered from front to back:
the fused sacral bodies, the sacral canal (at the midline only) and the dorsal plate. Off the
midline the lateral masses are solid bone pierced by the sacral foramina; the alae reach beyond
the S1 body's width, tapering to the coccyx. Ribs meet thoracic bodies at their upper corners and
run out along the transverse processes, so an off-midline plane cuts each as an oval behind the
body. The pubic symphysis appears only when the scan reaches far below the sacral promontory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vcfviewer.synth.anatomy import to_world
from vcfviewer.synth.ct_bones import Arch, BoneLook, bone_polygon
from vcfviewer.synth.ct_plan import Lateral
from vcfviewer.synth.ct_render import Ellipsoid, Grid, coverage, ellipse, paint, polygon
from vcfviewer.synth.shapes import BodyShape

FORAMINA_T = (0.12, 0.32, 0.52, 0.7)


@dataclass(frozen=True)
class SacrumPlan:
    """Centre line (S1 local mm, from the S1 top to the coccyx), normals and layer thicknesses."""

    centre: np.ndarray  # (n, 2)
    normal: np.ndarray  # (n, 2) unit, pointing anterior
    t: np.ndarray  # (n,) < 0 along S1, 0 at its inferior endplate, 1 at the tip
    front: np.ndarray  # distance from the centre line to the anterior surface
    body: np.ndarray  # thickness of the fused bodies
    canal: np.ndarray  # AP depth of the sacral canal
    dorsal: np.ndarray  # thickness of the dorsal plate
    ala_extra: float  # how far the alae reach beyond the S1 body's half-width
    foramen: float  # radius of the upper foramina


@dataclass(frozen=True)
class RibPlan:
    axes: tuple[float, float]  # semi-axes of the rib's section (AP, SI) in mm
    slope: float  # SI drop per mm outwards


def sample_sacrum(rng: np.random.Generator, s1: BodyShape, canal_depth: float) -> SacrumPlan:
    """A sacrum curving posteriorly below S1 (35–75° over its length)."""
    plan = s1.body.plan
    d, h = plan.depth, plan.hp
    lm = s1.landmarks_local
    length = h * rng.uniform(3.0, 3.8)
    turn = math.radians(rng.uniform(35.0, 75.0))
    tt = np.linspace(0.0, 1.0, 28)
    heading = turn * tt ** 1.3
    step = length / (len(tt) - 1)
    du = np.concatenate([[0.0], np.cumsum(-np.sin(heading) * step)[:-1]])
    dv = np.concatenate([[0.0], np.cumsum(np.cos(heading) * step)[:-1]])
    start_v, top_v = float(lm[4, 1]), float(min(lm[0, 1], lm[2, 1]))
    above = np.linspace(top_v, start_v, 6)[:-1]
    centre = np.concatenate([np.stack([np.zeros_like(above), above], 1),
                             np.stack([du, start_v + dv], 1)])
    heading = np.concatenate([np.zeros_like(above), heading])
    t = np.concatenate([(above - start_v) / length, tt])
    tp = np.clip(t, 0.0, 1.0)
    return SacrumPlan(
        centre=centre, normal=np.stack([np.cos(heading), np.sin(heading)], 1), t=t,
        front=d * (0.5 - 0.3 * tp), body=d * (1.0 - 0.6 * tp),
        canal=canal_depth * (1.0 - 0.6 * tp), dorsal=rng.uniform(5.0, 9.0) * (1.0 - 0.3 * tp),
        ala_extra=rng.uniform(10.0, 25.0), foramen=rng.uniform(3.0, 5.0))


def _layer(sac: SacrumPlan, keep: np.ndarray, d0: np.ndarray, d1: np.ndarray) -> np.ndarray:
    """Local polygon between depths d0 and d1 behind the anterior surface, over samples ``keep``."""
    anterior = sac.centre + sac.normal * sac.front[:, None]
    outer = anterior - sac.normal * d0[:, None]
    inner = anterior - sac.normal * d1[:, None]
    return np.concatenate([outer[keep], inner[keep][::-1]])


def render_sacrum(canvas: np.ndarray, grid: Grid, s1: BodyShape, lateral: Lateral,
                  sac: SacrumPlan, z: float, look: BoneLook) -> None:
    """The sacral plate, canal, foramina and fused-disc ridges at plane ``z``."""
    o = abs(z - lateral.centre)
    tp = np.clip(sac.t, 0.0, 1.0)
    present = (lateral.half_width + sac.ala_extra) * (1.0 - 0.75 * tp) > o
    if present.sum() < 2:
        return
    world = lambda local: to_world(s1.body, local[:, 0], local[:, 1])  # noqa: E731
    total = sac.body + sac.canal + sac.dorsal
    bone_polygon(canvas, grid, world(_layer(sac, present, np.zeros_like(total), total)),
                 look.trabecular * 1.1, look.cortical * 0.8, 0.8)
    canal_half = lateral.canal * (1.0 - 0.5 * tp)
    in_canal = present & (canal_half > o)
    if in_canal.sum() >= 2:
        poly = world(_layer(sac, in_canal, sac.body, sac.body + sac.canal))
        box = grid.box(poly, 0.5)
        if box is not None:
            paint(canvas, box, polygon(grid, box, poly), look.fat * 0.5 + look.csf * 0.5)
        _ridges(canvas, grid, s1, sac, look)
    _foramina(canvas, grid, s1, sac, o, canal_half, look)


def _foramina(canvas: np.ndarray, grid: Grid, s1: BodyShape, sac: SacrumPlan, o: float,
              canal_half: np.ndarray, look: BoneLook) -> None:
    """Round holes in a vertical row just lateral to the canal."""
    for tk in FORAMINA_T:
        i = int(np.argmin(np.abs(sac.t - tk)))
        lateral_pos = canal_half[i] + 5.0
        radius = sac.foramen * (1.0 - 0.4 * tk)
        k = 1.0 - ((o - lateral_pos) / 6.0) ** 2
        if k <= 0:
            continue
        anterior = sac.centre[i] + sac.normal[i] * sac.front[i]
        local = anterior - sac.normal[i] * (sac.body[i] + sac.canal[i] / 2)
        centre = to_world(s1.body, local[0], local[1])
        hit = ellipse(grid, tuple(centre), (radius * math.sqrt(k), radius * math.sqrt(k) * 1.2))
        if hit is not None:
            paint(canvas, hit[0], coverage(hit[1], min(grid.dx, grid.dy)), look.fat * 0.7)


def _ridges(canvas: np.ndarray, grid: Grid, s1: BodyShape, sac: SacrumPlan, look: BoneLook) -> None:
    """Remnants of the fused sacral discs: sclerotic lines across the bodies."""
    for tk in (0.2, 0.42, 0.62):
        i = int(np.argmin(np.abs(sac.t - tk)))
        anterior = sac.centre[i] + sac.normal[i] * sac.front[i]
        mid = anterior - sac.normal[i] * sac.body[i] / 2
        centre = to_world(s1.body, mid[0], mid[1])
        tangent = to_world(s1.body, *(mid + sac.normal[i])) - centre
        hit = ellipse(grid, tuple(centre), (sac.body[i] * 0.45, 0.6),
                      math.atan2(tangent[1], tangent[0]))
        if hit is not None:
            paint(canvas, hit[0], coverage(hit[1], min(grid.dx, grid.dy)) * 0.7, look.cortical * 0.6)


def sample_rib(rng: np.random.Generator) -> RibPlan:
    return RibPlan(axes=(rng.uniform(4.0, 6.0), rng.uniform(5.0, 8.0)), slope=rng.uniform(0.1, 0.35))


def render_rib(canvas: np.ndarray, grid: Grid, shape: BodyShape, lateral: Lateral, arch: Arch,
               rib: RibPlan, z: float, look: BoneLook) -> None:
    """The rib on the plane's side: from its head at the body's upper corner out along the
    transverse process and on towards its angle."""
    o = abs(z - lateral.centre)
    knots_o = (lateral.half_width - 3.0, lateral.transverse, lateral.transverse + 25.0,
               lateral.transverse + 50.0)
    if not knots_o[0] <= o <= knots_o[-1]:
        return
    x0, c = -shape.half, arch.canal_depth
    u = float(np.interp(o, knots_o, (x0 + 0.1 * shape.body.plan.depth, x0 - 0.9 * c,
                                     x0 - 1.4 * c, x0 - 1.2 * c)))
    v = shape.landmarks_local[2, 1] - 0.05 * shape.body.plan.hp + rib.slope * (o - knots_o[0])
    centre = to_world(shape.body, u, v)
    t = np.linspace(0, 2 * np.pi, 20, endpoint=False)
    outline = centre + np.stack([rib.axes[0] * np.cos(t), rib.axes[1] * np.sin(t)], 1)
    bone_polygon(canvas, grid, outline, look.arch * 0.8, look.cortical * 0.8, 1.0)


def sample_pubis(rng: np.random.Generator, s1: BodyShape) -> Ellipsoid:
    """The pubic bodies at the symphysis, far anterior and inferior to the promontory."""
    corner = s1.landmarks_world()[0]
    centre = (float(corner[0]) - rng.uniform(70.0, 110.0), float(corner[1]) + rng.uniform(95.0, 135.0),
              rng.normal(0.0, 3.0))
    return Ellipsoid(centre=centre, axes=(rng.uniform(7.0, 11.0), rng.uniform(16.0, 24.0), 45.0),
                     angle=rng.uniform(-0.5, 0.2))


def render_pubis(canvas: np.ndarray, grid: Grid, pubis: Ellipsoid, z: float, look: BoneLook) -> None:
    if abs(z - pubis.centre[2]) < 1.5:  # the fibrocartilage of the symphysis itself
        hit = pubis.draw(grid, z)
        if hit is not None:
            paint(canvas, hit[0], coverage(hit[1], min(grid.dx, grid.dy)), look.annulus)
        return
    sec = pubis.section(z)
    if sec is None:
        return
    t = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ca, sa = math.cos(pubis.angle), math.sin(pubis.angle)
    x, y = sec[1][0] * np.cos(t), sec[1][1] * np.sin(t)
    outline = np.stack([sec[0][0] + x * ca - y * sa, sec[0][1] + x * sa + y * ca], 1)
    bone_polygon(canvas, grid, outline, look.trabecular * 1.3, look.cortical * 0.9, 1.2)


@dataclass(frozen=True)
class IliumPlan:
    """The iliac bone beside the sacrum: its sagittal outline (world X, Y) at the sacroiliac
    joint, which lies ``joint`` mm lateral to the S1 midline; further out the wing flares forward
    and up."""

    joint: float
    outline: np.ndarray
    flare: tuple[float, float]  # X and Y shift per mm outwards


def sample_ilium(rng: np.random.Generator, s1: BodyShape, lateral: Lateral, sac: SacrumPlan) -> IliumPlan:
    lm = s1.landmarks_world()
    h, d = s1.body.plan.hp, s1.body.plan.depth
    top = float(lm[:3, 1].min()) - h * rng.uniform(0.6, 1.2)  # the crest near the L5 body
    back = float(lm[2, 0]) + d * rng.uniform(0.6, 0.9)
    front = float(lm[0, 0]) - d * rng.uniform(0.0, 0.3)
    bottom = float(lm[:3, 1].max()) + h * rng.uniform(2.2, 3.0)
    outline = np.array([[back, top + 15.0], [(back + front) / 2, top], [front, top + 25.0],
                        [front - 5.0, bottom - 25.0], [(back + front) / 2, bottom],
                        [back + 5.0, bottom - 40.0]])
    return IliumPlan(joint=lateral.half_width + sac.ala_extra, outline=outline,
                     flare=(-rng.uniform(0.4, 0.9), -rng.uniform(0.1, 0.4)))


def render_ilium(canvas: np.ndarray, grid: Grid, ilium: IliumPlan, lateral: Lateral, z: float,
                 look: BoneLook) -> None:
    """Only far off the midline: the joint's cartilage, then the iliac wing."""
    o = abs(z - lateral.centre)
    if o < ilium.joint - 2.0:
        return
    beyond = max(o - ilium.joint, 0.0)
    outline = ilium.outline + np.array(ilium.flare) * beyond
    smooth = outline
    for _ in range(2):  # Chaikin corner cutting: no sharp vertices on a bone
        nxt = np.roll(smooth, -1, axis=0)
        smooth = np.stack([0.75 * smooth + 0.25 * nxt, 0.25 * smooth + 0.75 * nxt], 1).reshape(-1, 2)
    if o < ilium.joint:
        box = grid.box(smooth, 0.5)
        if box is not None:
            paint(canvas, box, polygon(grid, box, smooth), look.annulus)
        return
    bone_polygon(canvas, grid, smooth, look.arch * 0.8, look.cortical * 0.8, 1.2)
