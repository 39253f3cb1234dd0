"""Planning one film's geometry: the column with its disease, the field of view and which bodies
make it into the ground truth.

Rule for bodies at the film edge (documented for the model's sake): a vertebral body is in the
truth only when all six landmarks lie inside the exposed field (≥ ``EDGE_MARGIN_PX`` pixels from the
image border and collimation); a body that fails this is left out of the findings and its pixels
stay 0 (background) in the label map. An included body whose mask is clipped by the edge is
flagged ``cut_at_edge``. The sacrum (S1 segment) is included when any of it is visible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from vcfviewer.synth import disease
from vcfviewer.synth.anatomy import ColumnPlan, PlacedBody, place_column, plan_column
from vcfviewer.synth.options import SynthOptions
from vcfviewer.synth.shapes import BodyShape, build_shape

EDGE_MARGIN_PX = 3.0


@dataclass(frozen=True)
class FieldOfView:
    """The film in world mm (canonical, facing left) and its pixel grid."""

    origin: tuple[float, float]
    spacing: float
    rows: int
    cols: int
    field: np.ndarray  # (k, 2) exposed-field polygon in pixels [x, y]

    def to_px(self, world: np.ndarray) -> np.ndarray:
        return (np.asarray(world) - np.asarray(self.origin)) / self.spacing

    def inside_field(self, px: np.ndarray, margin: float = EDGE_MARGIN_PX) -> bool:
        contour = self.field.reshape(-1, 1, 2).astype(np.float32)
        for x, y in np.asarray(px).reshape(-1, 2):
            if not (margin <= x <= self.cols - 1 - margin and margin <= y <= self.rows - 1 - margin):
                return False
            if cv2.pointPolygonTest(contour, (float(x), float(y)), True) < margin:
                return False
        return True

    def field_mask(self) -> np.ndarray:
        mask = np.zeros((self.rows, self.cols), dtype=np.uint8)
        pts = np.round(self.field * 16).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(mask, [pts], 1, lineType=cv2.LINE_8, shift=4)
        return mask.astype(bool)


@dataclass(frozen=True)
class FovDraws:
    """Random draws of the field of view, kept fixed while the column is re-solved."""

    top_margin: float
    bottom_margin: float
    aspect: float
    left_slack: float
    spacing_u: float
    collimation: tuple[float, float, float, float] | None
    collimation_angle: float


@dataclass(frozen=True)
class PlannedFilm:
    column: ColumnPlan
    placed: tuple[PlacedBody, ...]
    shapes: dict[str, BodyShape]
    fov: FieldOfView
    included: tuple[str, ...]  # cranial → caudal, S1 last when visible
    top_level: str
    transitional: str | None


def sample_fov_draws(rng: np.random.Generator, options: SynthOptions) -> FovDraws:
    collimation = None
    if rng.random() < options.collimation_rate:
        sides = rng.uniform(0.0, 0.12, 4) * (rng.random(4) < 0.6)
        collimation = tuple(float(s) for s in sides)
    return FovDraws(top_margin=rng.uniform(-0.2, 0.8), bottom_margin=rng.uniform(30.0, 110.0),
                    aspect=rng.uniform(0.5, 0.95), left_slack=rng.uniform(0.3, 0.85),
                    spacing_u=rng.random(), collimation=collimation,
                    collimation_angle=rng.normal(0.0, 1.0))


def _spacing(height_mm: float, u: float, options: SynthOptions) -> float:
    if options.spacing_mm is not None:
        return float(options.spacing_mm)
    low = max(0.1, height_mm / options.max_rows)
    high = max(low, min(0.2, height_mm / 1500.0))
    # six decimals: the DICOM DS string then reads back as exactly this float
    return round(low + (high - low) * u, 6)


def _field_polygon(rows: int, cols: int, draws: FovDraws) -> np.ndarray:
    if draws.collimation is None:
        return np.array([[-1.0, -1.0], [cols, -1.0], [cols, rows], [-1.0, rows]])
    top, bottom, left, right = draws.collimation
    pts = np.array([[left * cols, top * rows], [cols * (1 - right), top * rows],
                    [cols * (1 - right), rows * (1 - bottom)], [left * cols, rows * (1 - bottom)]])
    centre = pts.mean(axis=0)
    a = math.radians(draws.collimation_angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    pts = (pts - centre) @ rot.T + centre
    # a border that would fall outside the image is simply the image edge
    return np.where(pts < 0, np.minimum(pts, -1.0), pts)


def make_fov(shapes: dict[str, BodyShape], top_level: str, draws: FovDraws,
             options: SynthOptions) -> FieldOfView:
    """Frame the film from the top body (with a margin that may cut it) to below the S1 endplate."""
    top_shape, s1 = shapes[top_level], shapes["S1"]
    top_lm = top_shape.landmarks_world()
    top_y = float(top_lm[:3, 1].min()) - draws.top_margin * top_shape.body.plan.height
    bottom_y = float(s1.landmarks_world()[:3, 1].mean()) + draws.bottom_margin
    height = bottom_y - top_y
    spine = np.concatenate([s.landmarks_world() for s in shapes.values()])
    x_ant = float(spine[:, 0].min())
    depth = s1.body.plan.depth
    x_post = float(spine[:, 0].max()) + 1.7 * depth
    width = max(height * draws.aspect, (x_post - x_ant) + 20.0)
    slack = width - (x_post - x_ant)
    left = x_ant - draws.left_slack * slack
    spacing = _spacing(height, draws.spacing_u, options)
    rows, cols = int(round(height / spacing)), int(round(width / spacing))
    return FieldOfView(origin=(left, top_y), spacing=spacing, rows=rows, cols=cols,
                       field=_field_polygon(rows, cols, draws))


def _included(shapes: dict[str, BodyShape], order: list[str], fov: FieldOfView) -> tuple[str, ...]:
    out = []
    for level in order:
        if level == "S1":
            out.append(level)
        elif fov.inside_field(fov.to_px(shapes[level].landmarks_world())):
            out.append(level)
    return tuple(out)


def _initial_column(rng: np.random.Generator, options: SynthOptions) -> tuple[ColumnPlan, str, str | None]:
    top = str(rng.choice(list(options.top_levels)))
    transitional = disease.draw_transitional(rng, options)
    levels = disease.levels_for(top, "L6" if transitional == "L6" else None)
    column = disease.mark_transitional(plan_column(rng, levels, options.flat_back_rate),
                                       transitional, rng)
    candidates = levels[levels.index(top) + 1: -1]
    column = disease.add_lookalikes(column, rng, options, candidates)
    column = disease.add_fractures(column, rng, options, candidates)
    return column, top, transitional


def plan_film(rng: np.random.Generator, options: SynthOptions) -> PlannedFilm | None:
    """Column + FOV whose truth is unambiguous under morphometry; None to retry with new draws."""
    column, top, transitional = _initial_column(rng, options)
    draws = sample_fov_draws(rng, options)
    order = [b.level for b in column.bodies]
    included = set(order[order.index(top):])
    for _ in range(5):
        column = disease.solve_fractures(column, included)
        column = disease.repair_normals(column, included)
        placed = place_column(column)
        shapes = {p.plan.level: build_shape(p) for p in placed}
        fov = make_fov(shapes, top, draws, options)
        now = set(_included(shapes, order, fov))
        if now == included:
            break
        included = now
    else:
        return None
    if disease.truth_problems(column.bodies, included):
        return None
    return PlannedFilm(column=column, placed=tuple(placed), shapes=shapes, fov=fov,
                       included=tuple(lv for lv in order if lv in included), top_level=top,
                       transitional=transitional)
