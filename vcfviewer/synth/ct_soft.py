"""Soft tissue of a simulated CT in Hounsfield units: the patient on the table, fat, organs, bowel,
vessels, lungs.

The patient lies supine, so the back is flat on the table and gas in bowel loops and the stomach
rises anteriorly (air–fluid levels are vertical lines on a sagittal plane). Everything is a 3-D
object or a field that varies smoothly with Z, so neighbouring planes of a volume agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vcfviewer.synth.ct_render import Ellipsoid, Grid, LayeredNoise, coverage, paint, profile_interp


@dataclass(frozen=True)
class Organ:
    """An organ or bowel loop: ellipsoid, HU, where it may lie and, for gas, the air–fluid level."""

    shape: Ellipsoid
    hu: float
    region: str  # "abdomen", "thorax" or "any"
    wall: float = 0.0  # wall thickness (mm), drawn at 40 HU
    gas_level: float | None = None  # world X: gas anterior to it, ``hu`` behind
    mottled: bool = False  # faeces: bubbly


@dataclass(frozen=True)
class Tube:
    """A vessel along Y: centre X and Z as knots over Y, radius, AP flattening, HU."""

    y: np.ndarray
    x: np.ndarray
    z: np.ndarray
    radius: float
    flatten: float
    hu: float


@dataclass(frozen=True)
class SoftPlan:
    """Every soft-tissue draw of one patient (world mm: X posterior, Y caudal, Z left)."""

    knots_y: np.ndarray
    front: np.ndarray  # X of the spine's anterior surface (bodies, discs, sacrum) at knots_y
    back: np.ndarray  # X of the posterior body walls
    skin: np.ndarray  # X of the anterior skin at the midline
    table: float  # X of the table top (= the flat back skin)
    half_width: float  # the patient's lateral half-width
    fat_front: float
    fat_back: float
    wall: float
    diaphragm: tuple[float, float, float, float]  # apex X, apex Y, depth to the spine, spine X
    mediastinum: tuple[float, float, float]  # centre Z, half-width, depth in front of the spine
    spine_half: float  # lateral half-width of the thoracic column (lungs reach beside it)
    organs: tuple[Organ, ...]
    tubes: tuple[Tube, ...]
    plaques: tuple[tuple[float, float, float, float], ...]  # X, Y, Z, radius
    retro: float  # depth of the retroperitoneal fat in front of the spine
    visceral_fat: float  # share of the abdominal cavity that is fat
    muscle_fat: float  # fatty infiltration of the back muscles
    hu: dict  # tissue HU draws
    table_mm: float
    seed: tuple[int, ...]


def _diaphragm_y(plan: SoftPlan, xs: np.ndarray) -> np.ndarray:
    """Y of the diaphragm over X: dome highest in front, meeting the spine (crura) low."""
    ax, ay, depth, spine_x = plan.diaphragm
    # behind the crura the posterior recess keeps dipping beside the spine
    reach = np.clip((xs - ax) / max(spine_x - ax, 10.0), -1.0, 1.3)
    return ay + depth * reach ** 2 * np.where(reach > 0, 1.0, 0.35)


def skin_x(plan: SoftPlan, ys: np.ndarray, z: float) -> np.ndarray:
    """Anterior skin X on the plane at ``z`` (the back is flat on the table)."""
    front = profile_interp(ys, plan.knots_y, plan.skin)
    k = math.sqrt(max(1.0 - (z / plan.half_width) ** 2, 0.05))
    return plan.table - (plan.table - front) * k


class SoftRenderer:
    """Paints a SoftPlan on planes of one grid (keeps the grid's layered fields).

    ``single``: one plane only, so the fields need not blend smoothly between Z layers."""

    def __init__(self, plan: SoftPlan, grid: Grid, single: bool = False) -> None:
        self.plan, self.grid = plan, grid
        full = (slice(0, grid.rows), slice(0, grid.cols))
        self.organ_field = LayeredNoise(plan.seed + (1,), full, (15.0, 15.0), 10.0, grid, single)
        self.fat_field = LayeredNoise(plan.seed + (2,), full, (7.0, 7.0), 6.0, grid, single)
        self.muscle_field = LayeredNoise(plan.seed + (3,), full, (7.0, 1.2), 3.0, grid, single)
        self.fine_field = LayeredNoise(plan.seed + (4,), full, (0.9, 0.9), 1.5, grid, single)
        self._fine: tuple[float, np.ndarray] | None = None

    def _fine_at(self, z: float) -> np.ndarray:
        if self._fine is None or self._fine[0] != z:
            self._fine = (z, self.fine_field.at(z))
        return self._fine[1]

    def render(self, canvas: np.ndarray, z: float) -> None:
        """Air, the body with its fat layers, cavities, organs, vessels and the table."""
        plan, grid = self.plan, self.grid
        xs, ys = grid.xs(), grid.ys()
        step = min(grid.dx, grid.dy)
        canvas[:] = plan.hu["air"]
        front_skin = skin_x(plan, ys, z)
        inside = coverage(np.minimum(xs - front_skin, plan.table - xs), step)
        organ = self.organ_field.at(z)
        canvas += inside * (plan.hu["muscle"] + 6.0 * organ - canvas)
        fat = coverage(np.minimum(front_skin + plan.fat_front - xs, xs - front_skin - 1.0), step)
        fat += coverage(np.minimum(xs - (plan.table - plan.fat_back), plan.table - 1.0 - xs), step)
        canvas += np.minimum(fat, 1.0) * (plan.hu["fat"] + 8.0 * organ - canvas)
        spine_front = profile_interp(ys, plan.knots_y, plan.front)
        wall_in = front_skin + plan.fat_front + plan.wall
        ax, ay, depth, _ = plan.diaphragm
        # rows above the lowest point of the diaphragm can hold lung, rows below its dome belly
        low = int(np.searchsorted(ys[:, 0], ay + 1.7 * depth + 2.0 * step))
        high = int(np.searchsorted(ys[:, 0], ay - 2.0 * step))
        if low > 0:
            rows = slice(0, low)
            thorax = coverage(_diaphragm_y(plan, xs) - ys[rows], step)
            self._thorax(canvas[rows], xs, ys[rows], z, wall_in[rows], spine_front[rows], thorax, step)
        if high < grid.rows:
            rows = slice(high, grid.rows)
            thorax = coverage(_diaphragm_y(plan, xs) - ys[rows], step)
            self._abdomen(canvas[rows], xs, z, wall_in[rows], spine_front[rows], thorax,
                          organ[rows], step, rows)
        self._back(canvas, xs, ys, z, step)
        for item in plan.organs:
            self._organ(canvas, item, z, step)
        for tube in plan.tubes:
            self._tube(canvas, tube, z, step)
        self._plaques(canvas, z, step)
        self._table(canvas, xs, step)

    def _abdomen(self, canvas: np.ndarray, xs: np.ndarray, z: float, wall_in: np.ndarray,
                 spine_front: np.ndarray, thorax: np.ndarray, organ: np.ndarray, step: float,
                 rows: slice) -> None:
        """Below the diaphragm: mesenteric fat and bowel/organ tissue, retroperitoneal fat."""
        plan = self.plan
        belly = 1.0 - thorax
        cavity = coverage(np.minimum(xs - wall_in, spine_front - plan.retro - xs), step) * belly
        fat = self.fat_field.at(z)[rows]
        threshold = float(np.quantile(fat[:: 8, :: 8], plan.visceral_fat))
        fatty = np.clip((threshold - fat) * 3.0 + 0.5, 0.0, 1.0)
        tissue = plan.hu["bowel"] + 8.0 * organ
        canvas += cavity * (tissue + fatty * (plan.hu["fat"] - tissue) - canvas)
        retro = coverage(np.minimum(xs - (spine_front - plan.retro), spine_front + 4.0 - xs), step)
        canvas += retro * belly * (plan.hu["fat"] + 25.0 * np.clip(organ, 0, None) - canvas)

    def _thorax(self, canvas: np.ndarray, xs: np.ndarray, ys: np.ndarray, z: float,
                wall_in: np.ndarray, spine_front: np.ndarray, thorax: np.ndarray, step: float) -> None:
        """Above the diaphragm: lungs with vessels, the mediastinum in front of the spine."""
        plan = self.plan
        if not thorax.any():
            return
        mz, mhalf, mdepth = plan.mediastinum
        dz = abs(z - mz) / mhalf
        back = spine_front - (mdepth * math.sqrt(1.0 - dz * dz) if dz < 1 else 0.0)
        lateral = abs(z) > plan.spine_half + 6.0
        if lateral:  # beside the column the lungs reach back to the ribs
            back = profile_interp(ys, plan.knots_y, plan.back) + 12.0
        lung = coverage(np.minimum(xs - wall_in - 4.0, back - xs), step) * thorax
        vessels = np.clip((self._fine_at(z)[: canvas.shape[0]] - 1.6) * 2.0, 0.0, 1.0)
        hu = plan.hu["lung"] + vessels * (40.0 - plan.hu["lung"])
        canvas += lung * (hu - canvas)
        if dz < 1 and not lateral:
            media = coverage(np.minimum(xs - back, spine_front + 3.0 - xs), step) * thorax
            canvas += media * (plan.hu["fat"] * 0.6 + 20.0 - canvas)

    def _back(self, canvas: np.ndarray, xs: np.ndarray, ys: np.ndarray, z: float, step: float) -> None:
        """Fatty streaks in the back muscles (more with age)."""
        plan = self.plan
        spine_back = profile_interp(ys, plan.knots_y, plan.back)
        lo = float(spine_back.min()) + 3.0
        cols = slice(max(0, int((lo - self.grid.x0) / self.grid.dx)), self.grid.cols)
        x = xs[:, cols]
        muscles = coverage(np.minimum(x - spine_back - 3.0, plan.table - plan.fat_back - x), step)
        field = self.muscle_field.at(z)[:, cols]
        streak = np.clip((field - (2.4 - 2.0 * plan.muscle_fat)) * 1.5, 0.0, 1.0)
        canvas[:, cols] += muscles * streak * (plan.hu["fat"] - canvas[:, cols])

    def _organ(self, canvas: np.ndarray, item: Organ, z: float, step: float) -> None:
        hit = item.shape.draw(self.grid, z)
        if hit is None:
            return
        box, dist = hit
        xs, ys = self.grid.xs(box[1]), self.grid.ys(box[0])
        # organs stay inside the abdominal/chest wall however their ellipsoid was drawn
        wall_in = skin_x(self.plan, ys, z) + self.plan.fat_front + self.plan.wall
        cover = coverage(np.minimum(dist, xs - wall_in), step)
        if item.region != "any":
            above = coverage(_diaphragm_y(self.plan, xs) - ys, step)
            cover = cover * (above if item.region == "thorax" else 1.0 - above)
        hu = np.full(dist.shape, item.hu, np.float32)
        if item.mottled:  # faeces: gas bubbles in a pasty mass
            bubbles = self._fine_at(z)[box]
            hu = hu + np.clip((bubbles - 0.7) * 2.0, 0.0, 1.0) * (self.plan.hu["air"] * 0.85 - hu)
        if item.gas_level is not None:
            hu = np.where(xs < item.gas_level, self.plan.hu["air"], hu)
        if item.wall > 0:
            hu = hu + (40.0 - hu) * coverage(item.wall - dist, step)
        paint(canvas, box, cover, hu)

    def _tube(self, canvas: np.ndarray, tube: Tube, z: float, step: float) -> None:
        grid = self.grid
        box = grid.rect(float(tube.x.min()) - tube.radius - 2, float(tube.x.max()) + tube.radius + 2,
                        float(tube.y.min()), float(tube.y.max()))
        if box is None:
            return
        xs, ys = grid.xs(box[1]), grid.ys(box[0])
        dz = (z - profile_interp(ys, tube.y, tube.z)) / tube.radius
        half = tube.radius * tube.flatten * np.sqrt(np.clip(1.0 - dz * dz, 0.0, None))
        off = np.abs(xs - profile_interp(ys, tube.y, tube.x))
        cover = coverage(half - off, step) * (np.abs(dz) < 1.0)
        paint(canvas, box, cover, tube.hu)

    def _plaques(self, canvas: np.ndarray, z: float, step: float) -> None:
        """Calcified plaques of the aortic wall: small dense spots."""
        for x, y, pz, r in self.plan.plaques:
            k = 1.0 - ((z - pz) / r) ** 2
            if k <= 0:
                continue
            hit = Ellipsoid((x, y, pz), (r, r * 2.0, r)).draw(self.grid, z)
            if hit is not None:
                paint(canvas, hit[0], coverage(hit[1], step), self.plan.hu["plaque"])

    def _table(self, canvas: np.ndarray, xs: np.ndarray, step: float) -> None:
        """A carbon-fibre table: two thin bright shells around a foam core."""
        t0, t1 = self.plan.table + 1.0, self.plan.table + 1.0 + self.plan.table_mm
        core = coverage(np.minimum(xs - t0, t1 - xs), step)
        shell = coverage(1.2 - np.abs(xs - t0 - 0.6), step) + coverage(1.2 - np.abs(xs - t1 + 0.6), step)
        canvas += core * (self.plan.hu["table_core"] - canvas)
        canvas += np.minimum(shell, 1.0) * (self.plan.hu["table_shell"] - canvas)
