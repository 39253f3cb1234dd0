"""The spine as numbers: level-dependent body sizes, discs, the sagittal curve and body placement.

Units are millimetres at the patient plane. World coordinates: X to the image's right, Y down
(caudal), patient facing LEFT (anterior = −X); facing right is a mirror applied after rendering.
Each body has a local frame: ``u`` points anterior, ``v`` points caudal (down the body), origin
near the body's centre; ``frame_axes`` gives both unit vectors in world coordinates.

Typical adult values follow SYNTH.md: lumbar body height 25–30 mm, depth 30–35 mm at L1 growing to
35–40 mm at L5; T11–T12 height 22–26 mm, depth 28–32 mm; discs 5–7 mm thoracic, 8–12 mm lumbar;
Ha/Hp ≈ 0.85–0.95 lower thoracic, 0.95–1.05 at L1–L3, > 1 at L4–L5; lordosis 30–60°.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

# level: (mean height, mean depth, Ha/Hp low, Ha/Hp high, width/depth)
LEVEL_TABLE: dict[str, tuple[float, float, float, float, float]] = {
    # upper thoracic rows serve the CT simulator, whose fields of view start as high as T4
    "T2": (15.0, 17.0, 0.86, 0.95, 1.5),
    "T3": (15.5, 18.0, 0.86, 0.95, 1.35),
    "T4": (16.0, 19.5, 0.86, 0.95, 1.25),
    "T5": (16.5, 21.0, 0.86, 0.95, 1.18),
    "T6": (17.5, 22.5, 0.86, 0.95, 1.15),
    "T7": (18.5, 24.0, 0.86, 0.95, 1.15),
    "T8": (19.0, 25.0, 0.86, 0.95, 1.15),
    "T9": (20.0, 26.0, 0.86, 0.95, 1.18),
    "T10": (21.5, 27.0, 0.86, 0.95, 1.2),
    "T11": (23.0, 29.0, 0.87, 0.96, 1.25),
    "T12": (24.5, 31.0, 0.89, 0.97, 1.3),
    "L1": (26.0, 32.0, 0.94, 1.01, 1.38),
    "L2": (27.0, 33.5, 0.96, 1.04, 1.42),
    "L3": (27.5, 35.0, 0.97, 1.05, 1.45),
    "L4": (27.0, 36.5, 1.0, 1.08, 1.45),
    "L5": (26.0, 38.0, 1.06, 1.17, 1.45),
    "L6": (25.5, 38.0, 1.05, 1.15, 1.45),
    "S1": (27.0, 42.0, 1.0, 1.1, 1.6),
}

# disc below a level: (mean height low, high, lordotic wedge angle low, high in degrees)
DISC_TABLE: dict[str, tuple[float, float, float, float]] = {
    "T2": (3.5, 4.5, -3.0, -1.0),
    "T3": (3.5, 4.5, -3.0, -1.0),
    "T4": (3.5, 4.5, -3.0, -1.0),
    "T5": (4.0, 5.0, -3.0, -1.0),
    "T6": (4.0, 5.0, -3.0, -1.0),
    "T7": (4.5, 5.5, -3.0, -1.0),
    "T8": (4.5, 5.5, -3.0, -1.0),
    "T9": (5.0, 6.0, -3.0, -1.0),
    "T10": (5.0, 6.5, -1.5, 0.5),
    "T11": (5.5, 7.0, -1.0, 1.0),
    "T12": (6.5, 8.5, -0.5, 2.0),
    "L1": (7.5, 9.5, 0.0, 4.0),
    "L2": (8.5, 10.5, 2.0, 6.0),
    "L3": (9.0, 11.0, 4.0, 8.0),
    "L4": (9.5, 12.0, 7.0, 12.0),
    "L5": (8.0, 12.0, 9.0, 16.0),
    "L6": (6.0, 9.0, 8.0, 14.0),
}

THORACIC_ABOVE = ("T12", "T11", "T10", "T9", "T8", "T7")


@dataclass(frozen=True)
class BodyPlan:
    """One vertebral body (or the S1 segment) before it is placed: sizes, heights and disease.

    ``ha``/``hm``/``hp`` are the landmark heights (mm) the rendered contour will have exactly;
    ``ha0``/``hp0`` are the heights before any fracture (the collapse is taken from these).
    ``collapse`` is the share of lost height taken by the superior endplate (1 = only superior).
    ``top_share`` is the share of the middle concavity that lies in the superior endplate.
    """

    level: str
    depth: float
    width: float
    ha: float
    hm: float
    hp: float
    ha0: float
    hp0: float
    collapse: float = 0.5
    top_share: float = 0.5
    concavity_power: float = 1.6
    corner_r: float = 1.5
    cortex: float = 0.8
    endplate: float = 0.9
    endplate_spread: float = 1.5  # saddle shape of the endplate seen edge-on (mm)
    inferior_plate: float = 1.0  # weight of the inferior endplate (the sacrum's is fused: faint)
    grade: int = 0
    ftype: str = "none"
    lookalikes: frozenset[str] = frozenset()
    parallax: tuple[float, float] = (0.0, 0.0)
    waist: float = 0.8
    post_concavity: float = 0.5
    bulge: float = 0.0
    irregularity: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)  # superior endplate sine amplitudes
    irregularity_inf: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)  # inferior endplate
    recipe: tuple[float, ...] | None = None  # fracture recipe, kept so it can be re-solved
    schmorl: tuple[float, float, float, bool] | None = None  # (u, width, depth, superior)
    cement: bool = False
    osteophytes: tuple[float, float] = (0.0, 0.0)  # superior / inferior anterior spur length
    is_sacrum: bool = False

    @property
    def height(self) -> float:
        return (self.ha + self.hp) / 2.0


@dataclass(frozen=True)
class DiscPlan:
    """The disc below a body: heights at the anterior and posterior landmarks (mm)."""

    anterior: float
    posterior: float
    vacuum: bool = False
    calcified: bool = False


@dataclass(frozen=True)
class PlacedBody:
    """A body with its local frame in world mm: centre and angle (see ``frame_axes``)."""

    plan: BodyPlan
    centre: tuple[float, float]
    angle: float


@dataclass(frozen=True)
class ColumnPlan:
    """The whole column cranial → caudal (sacrum last) with the disc below each body."""

    bodies: tuple[BodyPlan, ...]
    discs: tuple[DiscPlan, ...]  # discs[i] lies below bodies[i]; len = len(bodies) - 1
    sacral_slope_deg: float
    tilt_deg: float
    meta: dict = field(default_factory=dict)

    def index(self, level: str) -> int:
        return [b.level for b in self.bodies].index(level)

    def with_body(self, i: int, body: BodyPlan) -> "ColumnPlan":
        bodies = list(self.bodies)
        bodies[i] = body
        return replace(self, bodies=tuple(bodies))


def frame_axes(angle: float) -> tuple[np.ndarray, np.ndarray]:
    """World unit vectors of the local u (anterior) and v (caudal) axes for a frame angle."""
    e_u = np.array([-math.cos(angle), -math.sin(angle)])
    e_v = np.array([-math.sin(angle), math.cos(angle)])
    return e_u, e_v


def to_world(body: PlacedBody, u: np.ndarray | float, v: np.ndarray | float) -> np.ndarray:
    """Local (u, v) mm → world (x, y) mm; broadcasts, last axis is (x, y)."""
    e_u, e_v = frame_axes(body.angle)
    u = np.asarray(u, dtype=np.float64)[..., None]
    v = np.asarray(v, dtype=np.float64)[..., None]
    return np.asarray(body.centre) + u * e_u + v * e_v


def endplate_lines(plan: BodyPlan) -> dict[str, float]:
    """Local v of the four corner landmarks and their u (see ``shapes`` for the contour)."""
    half = plan.depth / 2.0
    delta = plan.corner_r * (1.0 - 1.0 / math.sqrt(2.0))
    lost_a, lost_p = plan.ha0 - plan.ha, plan.hp0 - plan.hp
    c = plan.collapse
    return {
        "u_a": half - delta,
        "u_p": -(half - delta),
        "t_a": -(plan.ha0 + 2 * delta) / 2 + c * lost_a,
        "b_a": (plan.ha0 + 2 * delta) / 2 - (1 - c) * lost_a,
        "t_p": -(plan.hp0 + 2 * delta) / 2 + c * lost_p,
        "b_p": (plan.hp0 + 2 * delta) / 2 - (1 - c) * lost_p,
        "delta": delta,
    }


def _normal_body(level: str, rng: np.random.Generator, scale: float, bone: float) -> BodyPlan:
    h_mean, d_mean, ratio_lo, ratio_hi, w_ratio = LEVEL_TABLE[level]
    height = h_mean * scale * rng.uniform(0.95, 1.05)
    depth = d_mean * scale * rng.uniform(0.95, 1.05)
    ratio = rng.uniform(ratio_lo, ratio_hi)
    hp = 2 * height / (1 + ratio)
    ha = ratio * hp
    # normal endplate concavity: 0.3–1.2 mm per endplate
    concavity = rng.uniform(0.6, 2.0) if level != "S1" else rng.uniform(0.0, 0.6)
    corner_r = rng.uniform(0.8, 2.2) * scale
    delta = corner_r * (1.0 - 1.0 / math.sqrt(2.0))
    hm = (ha + hp) / 2 + 2 * delta - concavity
    return BodyPlan(
        level=level, depth=depth, width=depth * w_ratio * rng.uniform(0.93, 1.07),
        ha=ha, hm=hm, hp=hp, ha0=ha, hp0=hp, corner_r=corner_r,
        top_share=rng.uniform(0.35, 0.65), concavity_power=rng.uniform(1.2, 2.5),
        cortex=rng.uniform(0.3, 0.75) * (0.7 + 0.3 * bone), endplate=rng.uniform(0.5, 1.0),
        endplate_spread=rng.uniform(0.8, 3.0), inferior_plate=0.2 if level == "S1" else 1.0,
        waist=rng.uniform(0.3, 1.6), post_concavity=rng.uniform(0.0, 1.0),
        irregularity=tuple(rng.normal(0.0, 0.1, 4)), irregularity_inf=tuple(rng.normal(0.0, 0.1, 4)),
        parallax=(rng.normal(0.0, 0.9), rng.normal(0.0, 0.7)),
        is_sacrum=level == "S1",
    )


def _disc(level: str, rng: np.random.Generator, depth: float, scale: float, degen: float,
          angle_deg: float) -> DiscPlan:
    lo, hi = DISC_TABLE[level][:2]
    mean = rng.uniform(lo, hi) * scale
    lumbar = level.startswith("L")
    if lumbar and rng.random() < degen:
        mean *= rng.uniform(0.4, 0.75)  # degenerative narrowing
    spread = depth * math.tan(math.radians(angle_deg))
    floor = 1.5 * scale
    ant, post = mean + spread / 2, mean - spread / 2
    lowest = min(ant, post)  # the posterior side, unless the disc is wedged backwards (flat back)
    if lowest < floor:  # keep the wedge, lift the whole disc
        ant, post = ant + floor - lowest, post + floor - lowest
    return DiscPlan(anterior=ant, posterior=post,
                    vacuum=lumbar and rng.random() < degen * 0.3,
                    calcified=rng.random() < 0.05)


def _disc_angles(rng: np.random.Generator, bodies: list[BodyPlan], lordosis: float,
                 least: float = 5.0) -> list[float]:
    """Wedge angle of each disc; the lumbar ones share what the body wedges leave of the lordosis
    (at least ``least`` degrees in all; negative: discs taller at the back)."""
    angles = [rng.uniform(*DISC_TABLE[b.level][2:]) for b in bodies[:-1]]
    lumbar = [i for i, b in enumerate(bodies[:-1]) if b.level.startswith("L")]
    body_wedge = sum(math.degrees(math.atan((bodies[i].ha - bodies[i].hp) / bodies[i].depth))
                     for i in lumbar)
    wanted = lordosis - body_wedge
    drawn = sum(angles[i] for i in lumbar)
    if lumbar and drawn > 0:
        for i in lumbar:
            angles[i] *= max(wanted, least) / drawn
    return angles


def plan_column(rng: np.random.Generator, levels: list[str],
                flat_back_rate: float = 0.0) -> ColumnPlan:
    """A normal column for ``levels`` (cranial → caudal, ending with S1): sizes, discs, curve;
    with probability ``flat_back_rate`` an elderly flat or kyphotic lumbar spine."""
    scale = rng.uniform(0.86, 1.14)
    bone = rng.uniform(0.35, 1.0)  # trabecular bone fraction multiplier (osteoporosis → low)
    degen = rng.uniform(0.0, 0.6)
    bodies = [_normal_body(level, rng, scale, bone) for level in levels]
    slope = rng.uniform(28.0, 50.0)
    # standing lumbar lordosis tracks the sacral slope (pelvic incidence relation)
    lordosis = float(np.clip(slope + rng.normal(10.0, 7.0), 25.0, 70.0))
    least = 5.0
    # Drawn only when asked for, so the default keeps every earlier seed's film.
    if flat_back_rate > 0 and rng.random() < flat_back_rate:
        # Osteoporotic elderly spines lose lordosis (flat back, lumbar kyphosis) over a
        # retroverted pelvis; the discs may then be taller at the back than in front. The
        # lordosis stays within 25° below the sacral slope, so the trunk leans forward by at
        # most that much (sagittal imbalance), as standing patients manage.
        slope = rng.uniform(10.0, 30.0)
        lordosis = float(np.clip(slope - rng.uniform(0.0, 25.0), -15.0, 25.0))
        least = -90.0
    angles = _disc_angles(rng, bodies, lordosis, least)
    discs = [_disc(b.level, rng, b.depth, scale, degen, a) for b, a in zip(bodies[:-1], angles)]
    meta = {"scale": scale, "bone": bone, "degeneration": degen, "lordosis_deg": lordosis}
    return ColumnPlan(bodies=tuple(bodies), discs=tuple(discs), sacral_slope_deg=slope,
                      tilt_deg=rng.normal(0.0, 5.0), meta=meta)


def _solve_frame(plan: BodyPlan, ant: np.ndarray, post: np.ndarray) -> tuple[tuple[float, float], float]:
    """Frame placing the body's inferior corner landmarks along the segment post → ant."""
    lines = endplate_lines(plan)
    du, dv = lines["u_a"] - lines["u_p"], lines["b_a"] - lines["b_p"]
    beta = math.atan2(dv, du)
    t = (ant - post) / max(float(np.hypot(*(ant - post))), 1e-9)
    a = math.cos(beta) * t[0] - math.sin(beta) * t[1]
    b = math.sin(beta) * t[0] + math.cos(beta) * t[1]
    angle = math.atan2(-b, -a)
    e_u, e_v = frame_axes(angle)
    mid_local = ((lines["u_a"] + lines["u_p"]) / 2, (lines["b_a"] + lines["b_p"]) / 2)
    mid_world = (ant + post) / 2
    centre = mid_world - mid_local[0] * e_u - mid_local[1] * e_v
    return (float(centre[0]), float(centre[1])), angle


def superior_corners(body: PlacedBody) -> tuple[np.ndarray, np.ndarray]:
    """World positions of the superior anterior and posterior corner landmarks."""
    lines = endplate_lines(body.plan)
    ant = to_world(body, lines["u_a"], lines["t_a"])
    post = to_world(body, lines["u_p"], lines["t_p"])
    return ant, post


def place_column(column: ColumnPlan) -> list[PlacedBody]:
    """Stack the bodies from the sacrum upward over their discs (returns cranial → caudal)."""
    sacrum = column.bodies[-1]
    # S1 superior endplate slopes anteriorly-down by the sacral slope; the whole column tilts.
    angle = math.radians(-column.sacral_slope_deg + column.tilt_deg)
    placed = [PlacedBody(sacrum, (0.0, 0.0), angle)]
    for i in range(len(column.bodies) - 2, -1, -1):
        below = placed[-1]
        ant_low, post_low = superior_corners(below)
        along = (ant_low - post_low) / max(float(np.hypot(*(ant_low - post_low))), 1e-9)
        up = np.array([along[1], -along[0]])  # perpendicular; pick the cranial one
        if up[1] > 0:
            up = -up
        disc = column.discs[i]
        ant, post = ant_low + disc.anterior * up, post_low + disc.posterior * up
        centre, angle = _solve_frame(column.bodies[i], ant, post)
        placed.append(PlacedBody(column.bodies[i], centre, angle))
    return placed[::-1]
