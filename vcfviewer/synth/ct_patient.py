"""One simulated CT patient: the planned column plus every other random draw (arches, sacrum,
soft tissue), and the renderer that paints it in HU on any sagittal plane of a grid.

All randomness is drawn here, once, so planes rendered at different Z (a volume) show the same
patient; rendering itself draws nothing except the seeded layered fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from vcfviewer.synth import ct_bones as cb
from vcfviewer.synth import ct_sacrum as cs
from vcfviewer.synth.anatomy import to_world
from vcfviewer.synth.ct_plan import PlannedCT
from vcfviewer.synth.ct_render import Ellipsoid, Grid, LayeredNoise
from vcfviewer.synth.ct_soft import Organ, SoftPlan, SoftRenderer, Tube
from vcfviewer.synth.options import SynthOptions

PHASES = ("plain", "arterial", "portal")


@dataclass(frozen=True)
class Phantom:
    planned: PlannedCT
    look: cb.BoneLook
    arches: dict[str, cb.Arch]
    discs: tuple[cb.DiscExtra, ...]  # below each body but the last
    cement: dict[str, tuple[cb.Blob, ...]]
    sacrum: cs.SacrumPlan
    ribs: dict[str, cs.RibPlan]
    pubis: Ellipsoid
    ilium: cs.IliumPlan
    soft: SoftPlan
    phase: str
    seed: tuple[int, ...]


def sample_phantom(rng: np.random.Generator, planned: PlannedCT, options: SynthOptions,
                   seed: tuple[int, ...]) -> Phantom:
    """Draw everything about the patient beyond the column's plan."""
    column = planned.column
    look = cb.sample_look(rng, float(column.meta["bone"]))
    arches = {lv: cb.sample_arch(rng, s) for lv, s in planned.shapes.items()}
    discs = tuple(cb.sample_disc(rng, disc, body.depth, body.width / 2)
                  for disc, body in zip(column.discs, column.bodies))
    cement = {b.level: cb.sample_cement(rng, planned.shapes[b.level]) for b in column.bodies if b.cement}
    s1 = planned.shapes["S1"]
    sacrum = cs.sample_sacrum(rng, s1, arches["L5" if "L5" in arches else "S1"].canal_depth * 0.8)
    ribs = {lv: cs.sample_rib(rng) for lv in planned.shapes if lv.startswith("T")}
    pubis = cs.sample_pubis(rng, s1)
    phase = str(rng.choice(PHASES, p=[0.4, 0.2, 0.4]))
    soft = sample_soft(rng, planned, arches, sacrum, pubis, options, phase, seed)
    ilium = cs.sample_ilium(rng, s1, planned.lateral["S1"], sacrum)
    return Phantom(planned=planned, look=look, arches=arches, discs=discs, cement=cement,
                   sacrum=sacrum, ribs=ribs, pubis=pubis, ilium=ilium, soft=soft, phase=phase,
                   seed=seed)


def _spine_lines(planned: PlannedCT, sacrum: cs.SacrumPlan) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Y knots, anterior X, posterior-wall X) of the column, the sacrum's front included."""
    front, back = [], []
    for shape in planned.shapes.values():
        lm = shape.landmarks_world()
        front += [lm[0], lm[3]]
        back += [lm[2], lm[5]]
    s1 = planned.shapes["S1"]
    keep = sacrum.t > 0
    anterior = sacrum.centre[keep] + sacrum.normal[keep] * sacrum.front[keep, None]
    front += list(to_world(s1.body, anterior[:, 0], anterior[:, 1]))
    front, back = np.array(sorted(front, key=lambda p: p[1])), np.array(sorted(back, key=lambda p: p[1]))
    ys = np.arange(front[0, 1] - 150.0, front[-1, 1] + 250.0, 5.0)
    return ys, np.interp(ys, front[:, 1], front[:, 0]), np.interp(ys, back[:, 1], back[:, 0])


def _back_reach(planned: PlannedCT, arches: dict[str, cb.Arch], sacrum: cs.SacrumPlan) -> float:
    """Most posterior X of any bone within the scan (spinous tips, the sacrum's dorsal surface):
    the flat back lies a fat layer behind it."""
    points = []
    for level, shape in planned.shapes.items():
        sp = arches[level].spinous
        points.append(to_world(shape.body, sp[:, 0], sp[:, 1]))
    total = sacrum.front - (sacrum.body + sacrum.canal + sacrum.dorsal)
    dorsal = sacrum.centre + sacrum.normal * total[:, None]
    points.append(to_world(planned.shapes["S1"].body, dorsal[:, 0], dorsal[:, 1]))
    pts = np.concatenate(points)
    scan = planned.scan
    near = (pts[:, 1] > scan.first - 20.0) & (pts[:, 1] < scan.last_slice + 20.0)
    return float(pts[near, 0].max() if near.any() else pts[:, 0].max())


def _hu(rng: np.random.Generator, phase: str) -> dict:
    blood = {"plain": rng.uniform(35, 50), "arterial": rng.uniform(220, 380),
             "portal": rng.uniform(130, 200)}[phase]
    return {"air": rng.uniform(-1005, -990), "fat": rng.uniform(-110, -80),
            "muscle": rng.uniform(40, 55), "bowel": rng.uniform(20, 40), "lung": rng.uniform(-880, -820),
            "liver": rng.uniform(50, 65) + {"plain": 0, "arterial": 15, "portal": 55}[phase],
            "blood": blood, "vein": blood if phase != "arterial" else rng.uniform(60, 110),
            "plaque": rng.uniform(400, 1200), "table_core": rng.uniform(-400, -150),
            "table_shell": rng.uniform(100, 400), "kidney": 30 if phase == "plain" else rng.uniform(140, 220)}


def sample_soft(rng: np.random.Generator, planned: PlannedCT, arches: dict[str, cb.Arch],
                sacrum: cs.SacrumPlan, pubis: Ellipsoid, options: SynthOptions, phase: str,
                seed: tuple[int, ...]) -> SoftPlan:
    """The patient around the column: outline, fat, cavities, organs, bowel, vessels."""
    ys, front, back = _spine_lines(planned, sacrum)
    fat_front, fat_back = rng.uniform(5.0, 60.0), rng.uniform(5.0, 30.0)
    table = _back_reach(planned, arches, sacrum) + fat_back + rng.uniform(2.0, 12.0)
    dia_meet = _level(planned, "T12") + planned.shapes.get("T12", planned.shapes["S1"]).body.plan.hp / 2
    dia_meet += rng.normal(0.0, 12.0)
    depth = rng.uniform(40.0, 90.0)
    skin = _skin(rng, ys, front, table, dia_meet - depth, fat_front)
    spine_x = float(np.interp(dia_meet, ys, front))
    apex_x = float((np.interp(dia_meet - depth, ys, skin) + spine_x) / 2 + rng.normal(0.0, 12.0))
    thoracic = [lat.half_width for lv, lat in planned.lateral.items() if lv.startswith("T")]
    hu = _hu(rng, phase)
    plan = SoftPlan(
        knots_y=ys, front=front, back=back, skin=skin, table=table,
        half_width=rng.uniform(130.0, 200.0), fat_front=fat_front, fat_back=fat_back,
        wall=rng.uniform(6.0, 14.0), diaphragm=(apex_x, dia_meet - depth, depth, spine_x),
        mediastinum=(rng.uniform(0.0, 10.0), rng.uniform(18.0, 30.0), rng.uniform(15.0, 35.0)),
        spine_half=float(np.median(thoracic)) if thoracic else 15.0, organs=(), tubes=(), plaques=(),
        retro=rng.uniform(6.0, 20.0), visceral_fat=float(np.clip(0.1 + fat_front / 90.0 + rng.normal(0, 0.08), 0.05, 0.7)),
        muscle_fat=float(np.clip((1.0 - planned.column.meta["bone"]) * rng.uniform(0.3, 1.0), 0.02, 0.6)),
        hu=hu, table_mm=rng.uniform(8.0, 40.0), seed=seed)
    organs = _organs(rng, plan, planned, pubis) + _loops(rng, plan, planned, options)
    tubes, plaques = _vessels(rng, plan, planned)
    return SoftPlan(**{**plan.__dict__, "organs": organs, "tubes": tubes, "plaques": plaques})


def _skin(rng: np.random.Generator, ys: np.ndarray, front: np.ndarray, table: float, apex_y: float,
          fat: float) -> np.ndarray:
    """Anterior skin X: chest flatter than the abdomen, which grows with the fat."""
    chest = rng.uniform(180.0, 260.0)
    belly = rng.uniform(170.0, 260.0) + 1.5 * fat
    blend = 1.0 / (1.0 + np.exp(-(ys - apex_y - 40.0) / 25.0))
    wobble = np.interp(ys, ys[::12], rng.normal(0.0, 6.0, len(ys[::12])))
    ap = chest + (belly - chest) * blend + wobble
    return np.minimum(table - ap, front - 50.0 - fat)


def _organs(rng: np.random.Generator, plan: SoftPlan, planned: PlannedCT, pubis: Ellipsoid) -> tuple[Organ, ...]:
    ax, ay, _, spine_x = plan.diaphragm
    skin_ay = float(np.interp(ay, plan.knots_y, plan.skin))
    hu = plan.hu
    out = [
        Organ(Ellipsoid((0.5 * (skin_ay + spine_x) - 5.0, ay + 55.0, rng.uniform(-80.0, -60.0)),
                        (rng.uniform(60.0, 85.0), rng.uniform(70.0, 100.0), rng.uniform(95.0, 120.0))),
              hu["liver"], "abdomen"),
        Organ(Ellipsoid((ax + rng.uniform(-10.0, 20.0), ay - rng.uniform(30.0, 50.0), rng.uniform(15.0, 35.0)),
                        (rng.uniform(45.0, 55.0), rng.uniform(50.0, 60.0), rng.uniform(60.0, 75.0)),
                        rng.uniform(-0.6, 0.6), tuple((rng.normal(0.0, 0.06), rng.uniform(0, 6.3)) for _ in range(3))),
              hu["blood"], "thorax"),
    ]
    stomach = Ellipsoid((skin_ay + plan.fat_front + plan.wall + 45.0, ay + rng.uniform(40.0, 70.0),
                         rng.uniform(35.0, 60.0)), (rng.uniform(30.0, 45.0), rng.uniform(40.0, 60.0), 45.0))
    level = stomach.centre[0] + stomach.axes[0] * rng.uniform(-0.6, 0.2) if rng.random() < 0.7 else None
    out.append(Organ(stomach, rng.uniform(10.0, 30.0), "abdomen", wall=3.0, gas_level=level))
    l1 = _level(planned, "L1")
    for side in (-1.0, 1.0):
        out.append(Organ(Ellipsoid((float(np.interp(l1, plan.knots_y, plan.back)) - 5.0,
                                    l1 + 10.0 + 8.0 * (side < 0), side * rng.uniform(55.0, 70.0)),
                                   (22.0, 50.0, 28.0), angle=0.2 * side), hu["kidney"], "abdomen"))
    if rng.random() < 0.85:
        c = pubis.centre
        out.append(Organ(Ellipsoid((c[0] + rng.uniform(25.0, 45.0), c[1] - rng.uniform(10.0, 25.0), 0.0),
                                   (rng.uniform(25.0, 45.0), rng.uniform(20.0, 40.0), rng.uniform(35.0, 55.0))),
                         rng.uniform(5.0, 15.0), "any", wall=2.0))
    return tuple(out)


def _level(planned: PlannedCT, level: str) -> float:
    shape = planned.shapes.get(level) or planned.shapes["S1"]
    return float(shape.body.centre[1])


def _loops(rng: np.random.Generator, plan: SoftPlan, planned: PlannedCT,
           options: SynthOptions) -> tuple[Organ, ...]:
    """Bowel loops: gas (with a level), fluid, faeces, sometimes oral contrast."""
    gas_rate = 0.35 if rng.random() < options.bowel_gas_rate else 0.03
    oral = rng.random() < 0.2
    y0, y1 = plan.diaphragm[1] + 70.0, float(planned.shapes["S1"].body.centre[1]) + 150.0
    out = []
    for _ in range(int(rng.integers(15, 60))):
        y = rng.uniform(y0, y1)
        lo = float(np.interp(y, plan.knots_y, plan.skin)) + plan.fat_front + plan.wall + 10.0
        hi = float(np.interp(y, plan.knots_y, plan.front)) - plan.retro - 10.0
        axes = (rng.uniform(8.0, 22.0), rng.uniform(8.0, 30.0), rng.uniform(10.0, 30.0))
        if hi - lo < axes[0] + 4.0:
            continue
        centre = (rng.uniform(lo + axes[0] * 0.5, hi - axes[0] * 0.5), y, rng.uniform(-90.0, 90.0))
        wobble = tuple((rng.normal(0.0, 0.05), rng.uniform(0, 2 * np.pi)) for _ in range(3))
        shape = Ellipsoid(centre, axes, rng.uniform(0, np.pi), wobble)
        kind = rng.random()
        if kind < gas_rate:
            level = centre[0] + axes[0] * rng.uniform(-0.3, 0.6)
            out.append(Organ(shape, rng.uniform(5.0, 25.0), "abdomen", 2.0, gas_level=level))
        elif kind < gas_rate + 0.3:
            out.append(Organ(shape, rng.uniform(-40.0, 40.0), "abdomen", 2.0, mottled=True))
        elif oral and kind > 0.8:
            out.append(Organ(shape, rng.uniform(200.0, 500.0), "abdomen", 2.0))
        else:
            out.append(Organ(shape, rng.uniform(5.0, 30.0), "abdomen", 2.5))
    return tuple(out)


def _vessels(rng: np.random.Generator, plan: SoftPlan, planned: PlannedCT) -> tuple[tuple[Tube, ...], tuple]:
    """Aorta (left of the midline, further left in the chest) with its iliac branches; the IVC on
    the right from the liver to its confluence; calcified plaques on the aortic wall."""
    r = rng.uniform(9.0, 13.0) if rng.random() > 0.05 else rng.uniform(18.0, 28.0)
    z_abd, z_chest = rng.uniform(3.0, 15.0), rng.uniform(15.0, 30.0)
    bif = _level(planned, "L4") + rng.normal(0.0, 8.0)
    ys = np.arange(plan.knots_y[0], bif + 1.0, 10.0)
    chest = 1.0 / (1.0 + np.exp((ys - _level(planned, "T12")) / 20.0))
    front = np.interp(ys, plan.knots_y, plan.front)
    x = front - rng.uniform(1.0, 6.0) - r * (1.0 - 0.6 * chest)
    z = z_abd + (z_chest - z_abd) * chest
    tubes = [Tube(ys, x, z, r, 1.0, plan.hu["blood"])]
    tubes += _branches(rng, ys[-1], x[-1], z[-1], 0.62 * r, plan.hu["blood"])
    conf = _level(planned, "L5") + rng.normal(0.0, 8.0)
    rv, zv = rng.uniform(10.0, 13.0), -rng.uniform(15.0, 25.0)
    vy = np.arange(plan.diaphragm[1] + plan.diaphragm[2] - 20.0, conf + 1.0, 10.0)
    vx = np.interp(vy, plan.knots_y, plan.front) - rng.uniform(3.0, 10.0) - rv * 0.7
    tubes.append(Tube(vy, vx, np.full_like(vy, zv), rv, rng.uniform(0.6, 0.85), plan.hu["vein"]))
    tubes += _branches(rng, vy[-1], vx[-1], zv, 0.7 * rv, plan.hu["vein"])
    plaques = []
    for _ in range(int(rng.poisson(40.0 * plan.muscle_fat))):
        i = int(rng.integers(len(ys)))
        theta = rng.normal(0.0, 1.2)  # the posterior wall calcifies first
        plaques.append((float(x[i] + r * math.cos(theta)), float(ys[i] + rng.uniform(-5, 5)),
                        float(z[i] + r * math.sin(theta)), rng.uniform(0.8, 2.5)))
    return tuple(tubes), tuple(plaques)


def _branches(rng: np.random.Generator, y0: float, x0: float, z0: float, r: float,
              hu: float) -> list[Tube]:
    spread = math.tan(math.radians(rng.uniform(20.0, 35.0)))
    ys = np.linspace(y0, y0 + 110.0, 12)
    xs = x0 - 0.35 * (ys - y0)
    return [Tube(ys, xs, z0 + side * spread * (ys - y0), r, 1.0, hu) for side in (-1.0, 1.0)]


class PlaneRenderer:
    """Paints a Phantom in HU on sagittal planes of one grid."""

    def __init__(self, phantom: Phantom, grid: Grid, single: bool = False) -> None:
        self.phantom, self.grid = phantom, grid
        # soft tissue has no detail finer than the scan's pixels: paint it coarser, then resize
        self.soft_grid = grid.coarser(1.5 * grid.dx, 2.0 * grid.dy)
        self.soft = SoftRenderer(phantom.soft, self.soft_grid, single)
        self.band = cb.spine_box(grid, phantom.planned)
        self.vertical = LayeredNoise(phantom.seed + (10,), self.band, (1.5, 0.3), 0.8, grid, single)
        self.coarse = LayeredNoise(phantom.seed + (11,), self.band, (0.7, 0.7), 0.8, grid, single)

    def render(self, z: float, step_lat: float) -> np.ndarray:
        """HU of the plane at lateral position ``z`` (world mm)."""
        soft = np.empty(self.soft_grid.shape, dtype=np.float32)
        self.soft.render(soft, z)
        canvas = cv2.resize(soft, (self.grid.cols, self.grid.rows), interpolation=cv2.INTER_LINEAR)
        texture = np.ones(self.grid.shape, dtype=np.float32)
        texture[self.band] = cb.trabecular_texture(self.vertical.at(z), self.coarse.at(z), self.phantom.look)
        self._spine(canvas, z, texture, step_lat)
        return canvas

    def _spine(self, canvas: np.ndarray, z: float, texture: np.ndarray, step_lat: float) -> None:
        ph, grid = self.phantom, self.grid
        planned, look = ph.planned, ph.look
        levels = list(planned.shapes)
        shapes, lat = planned.shapes, planned.lateral
        discs = planned.column.discs
        for i, lv in enumerate(levels[:-1]):
            gaps = (discs[i - 1].posterior if i else 6.0, discs[i].posterior)
            cb.render_canal(canvas, grid, shapes[lv], lat[lv], ph.arches[lv], gaps, z, look,
                            cord=lv.startswith("T") or lv == "L1")
        for i, (up, low) in enumerate(zip(levels[:-1], levels[1:])):
            cb.render_disc(canvas, grid, shapes[up], shapes[low], (lat[up], lat[low]), ph.discs[i], z,
                           look, step_lat)
        for lv in levels[:-1]:
            cb.render_arch(canvas, grid, shapes[lv], lat[lv], ph.arches[lv], z, look)
            cb.render_facets(canvas, grid, shapes[lv], lat[lv], ph.arches[lv], z)
        cs.render_sacrum(canvas, grid, shapes["S1"], lat["S1"], ph.sacrum, z, look)
        cs.render_ilium(canvas, grid, ph.ilium, lat["S1"], z, look)
        for lv in levels:
            cb.render_body(canvas, grid, shapes[lv], lat[lv], z, look, texture, ph.cement.get(lv, ()),
                           step_lat)
        for lv, rib in ph.ribs.items():
            cs.render_rib(canvas, grid, shapes[lv], lat[lv], ph.arches[lv], rib, z, look)
        cs.render_pubis(canvas, grid, ph.pubis, z, look)

    def labels(self, z_of: dict[str, float], included: tuple[str, ...], xs: np.ndarray,
               ys: np.ndarray) -> np.ndarray:
        """int16 label map on the world grid (xs, ys): k = index in ``included`` + 1 for each body
        cut at its plane Z ``z_of[level]``."""
        out = np.zeros((ys.shape[0], xs.shape[1]), dtype=np.int16)
        for k, level in enumerate(included, start=1):
            shape = self.phantom.planned.shapes[level]
            ext = shape.landmarks_world()
            rows = np.flatnonzero((ys[:, 0] > ext[:, 1].min() - 15) & (ys[:, 0] < ext[:, 1].max() + 15))
            cols = np.flatnonzero((xs[0] > ext[:, 0].min() - 15) & (xs[0] < ext[:, 0].max() + 15))
            if rows.size == 0 or cols.size == 0:
                continue
            box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
            inside = cb.section_mask(shape, self.phantom.planned.lateral[level], z_of[level],
                                     xs[:, box[1]], ys[box[0]])
            region = out[box]
            region[inside & (region == 0)] = k
        return out
