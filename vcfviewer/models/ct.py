"""CT analysis: the film network over sagittal planes → bodies in 3-D → each measured on its own
mid-sagittal plane (CLINICAL §2), with the same post-processing and morphometry as radiographs.

Why planes and not a 3-D network: the shipped networks are 2-D and a sagittal CT plane looks like
a sharp lateral film. A body is about 30–50 mm wide, so it shows on many neighbouring planes;
posterior elements, ribs and vessels show on a few. Steps:

1. Scan planes every ``SCAN_STEP_MM`` within ``SCAN_HALF_MM`` of the column's mid-sagittal plane;
   run the film network on each (batched) and parse bodies per plane.
2. Link detections of neighbouring planes whose centres are close into one body; a body must
   span ``MIN_EXTENT_MM`` left to right (this drops pedicles, ribs and one-plane noise).
3. Each body's mid-sagittal plane is the area-weighted centre of its planes; levels are numbered
   from the sacrum over the whole column (``postprocess.number_levels``).
4. The body network measures each body on its own mid-sagittal plane; grades are decided as for
   radiographs (``assemble.build_annotation``). Every finding names its plane.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import TYPE_CHECKING

import numpy as np

from vcfviewer.core.annotation import Proposal
from vcfviewer.core.image import Radiograph, Volume
from vcfviewer.core.progress import Job, Progress
from vcfviewer.core.reformat import (mid_sagittal_index, plane_spacing_mm, sagittal_count,
                                     sagittal_plane)
from vcfviewer.models import assemble, postprocess, preprocess
from vcfviewer.models.postprocess import BodyCandidate, FilmParse

if TYPE_CHECKING:
    from vcfviewer.models.inference import Analyzer

CT_WINDOW_HU = (-250.0, 1250.0)  # what the model sees: air and fat black, cortex white
SCAN_HALF_MM = 40.0  # bodies are at most ~50 mm wide; the column may sit off the volume centre
SCAN_STEP_MM = 2.5
LINK_FRACTION = 0.5  # x body size: the same body on neighbouring planes moves far less
MIN_EXTENT_MM = 12.0
COLUMN_REACH_MM = 20.0  # a body's mid plane lies this close to the column's middle (scoliosis)
SACRUM_REACH_MM = 10.0  # the sacrum anchoring the numbering is taken this close to the middle:
# further out the iliac wings look like a sacrum to a 2-D network
FILM_BATCH = 8


def clip_hu(pixels: np.ndarray, window: tuple[float, float] = CT_WINDOW_HU) -> np.ndarray:
    """HU clipped to the model's window (training feeds this to ``labelled_film``)."""
    low, high = float(window[0]), float(window[1])
    return np.clip(np.nan_to_num(np.asarray(pixels, np.float32), nan=low), low, high)


def ct_unit(pixels: np.ndarray, window: tuple[float, float] = CT_WINDOW_HU) -> np.ndarray:
    """HU plane → the model's [0, 1] input: a fixed bone window, then the radiograph normalisation."""
    return preprocess.normalise_unit(clip_hu(pixels, window))


def window_of(card_input: dict) -> tuple[float, float]:
    """The card's CT window (HU), or the default for a radiograph model used on CT."""
    low, high = card_input.get("ct_window_hu", CT_WINDOW_HU)
    return float(low), float(high)


def scan_planes(volume: Volume, half_mm: float = SCAN_HALF_MM,
                step_mm: float = SCAN_STEP_MM) -> list[int]:
    """Plane indices to scan: every ``step_mm`` within ``half_mm`` of the mid-sagittal plane."""
    count, spacing = sagittal_count(volume), plane_spacing_mm(volume)
    mid = mid_sagittal_index(volume)
    step = max(1, int(round(step_mm / spacing)))
    reach = int(np.ceil(half_mm / spacing))
    lo, hi = max(0, mid - reach), min(count - 1, mid + reach)
    planes = list(range(mid, lo - 1, -step))[::-1] + list(range(mid + step, hi + 1, step))
    return planes


@dataclass
class _Detection:
    plane: int
    body: BodyCandidate


@dataclass
class _Track:
    """One body followed across planes."""

    detections: list[_Detection]

    @property
    def planes(self) -> np.ndarray:
        return np.array([d.plane for d in self.detections])

    @property
    def areas(self) -> np.ndarray:
        return np.array([d.body.area for d in self.detections], float)

    def extent_planes(self, step: int) -> int:
        return int(self.planes.max() - self.planes.min()) + step

    def mid_plane(self) -> int:
        """Area-weighted centre of the planes it shows on (the body is widest mid-way)."""
        return int(round(float((self.planes * self.areas).sum() / self.areas.sum())))

    def centre(self) -> np.ndarray:
        """Mean [x, y] of its detections' centres (film-network grid)."""
        return np.mean([d.body.centre for d in self.detections], axis=0)

    def nearest(self, plane: int) -> _Detection:
        return self.detections[int(np.argmin(np.abs(self.planes - plane)))]

    def candidate(self) -> BodyCandidate:
        """The body as one candidate: its mid-plane detection with votes pooled over planes."""
        centre_det = self.nearest(self.mid_plane())
        # Fracture evidence from the central planes only: the body's edges are partial-volume.
        central = [d for d in self.detections
                   if abs(d.plane - self.mid_plane()) <= max(1, len(self.detections) // 4)]
        pool = central or self.detections
        return replace(centre_det.body,
                       fracture_vote=float(np.mean([d.body.fracture_vote for d in pool])),
                       fracture_score=float(np.mean([d.body.fracture_score for d in pool])),
                       lumbar_vote=float(np.mean([d.body.lumbar_vote for d in self.detections])))


def link_tracks(per_plane: list[tuple[int, list[BodyCandidate]]], step: int) -> list[_Track]:
    """Join detections on neighbouring planes (≤ 2 steps apart) whose centres are close, the
    closest pairs first, never two detections of one plane into one track.

    One body shows once on a plane. Where bodies are small and close (upper thoracic on CT) a
    plane may show two of them joined as one detection, which is close to both bodies' tracks;
    linked freely it would merge them, and every body of the chain but one would be lost."""
    dets = [_Detection(p, b) for p, bodies in per_plane for b in bodies]
    if not dets:
        return []
    size = float(np.sqrt(np.median([d.body.area for d in dets])))
    centres = np.array([d.body.centre for d in dets], float)
    planes = np.array([d.plane for d in dets])
    gap = np.abs(planes[:, None] - planes[None])
    dist = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    pairs = np.argwhere((gap > 0) & (gap <= 2 * step) & (dist < LINK_FRACTION * size))
    pairs = pairs[pairs[:, 0] < pairs[:, 1]]
    parent = list(range(len(dets)))
    on_planes = [{int(p)} for p in planes]

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs[np.argsort(dist[pairs[:, 0], pairs[:, 1]], kind="stable")]:
        a, b = root(int(i)), root(int(j))
        if a != b and not on_planes[a] & on_planes[b]:
            parent[b] = a
            on_planes[a] |= on_planes[b]
    groups: dict[int, list[_Detection]] = {}
    for i, d in enumerate(dets):
        groups.setdefault(root(i), []).append(d)
    return _merge_pieces([_Track(sorted(g, key=lambda d: d.plane)) for g in groups.values()],
                         size, step)


def _merge_pieces(tracks: list[_Track], size: float, step: int) -> list[_Track]:
    """One body found in two pieces side by side (front and back, split by a cleft) leaves two
    tracks level with each other over overlapping planes: they become one. The column runs
    roughly top to bottom on a sagittal plane, and different bodies lie about a body's height
    apart along it, far beyond ``LINK_FRACTION`` of a body."""
    merged: list[_Track] = []
    for track in sorted(tracks, key=lambda t: -len(t.detections)):
        host = next((m for m in merged if _level_with(m, track, size, step)), None)
        if host is None:
            merged.append(track)
        else:
            host.detections = sorted(host.detections + track.detections, key=lambda d: d.plane)
    return merged


def _level_with(a: _Track, b: _Track, size: float, step: int) -> bool:
    dx, dy = np.abs(a.centre() - b.centre())
    overlap = (b.planes.min() <= a.planes.max() + 2 * step
               and a.planes.min() <= b.planes.max() + 2 * step)
    return bool(overlap and dy < LINK_FRACTION * size and dx < size)


def column_middle(tracks: list[_Track]) -> float | None:
    """The column's middle plane: the median of the bodies' mid planes, weighted by their size."""
    if not tracks:
        return None
    mids = np.array([t.mid_plane() for t in tracks], float)
    weights = np.array([t.areas.sum() for t in tracks])
    order = np.argsort(mids)
    cumulative = np.cumsum(weights[order])
    return float(mids[order][np.searchsorted(cumulative, cumulative[-1] / 2)])


def _in_column(tracks: list[_Track], middle: float | None, spacing: float) -> list[_Track]:
    """Bodies whose mid plane is near the column's middle (far-out tracks are ribs, ilium)."""
    if middle is None:
        return tracks
    return [t for t in tracks if abs(t.mid_plane() - middle) * spacing <= COLUMN_REACH_MM]


def _best_sacrum(sacra: list[tuple[int, np.ndarray]], middle: float,
                 spacing: float) -> tuple[int, np.ndarray] | None:
    """The sacrum to anchor numbering: the largest found near the column's middle plane."""
    near = [s for s in sacra if abs(s[0] - middle) * spacing <= SACRUM_REACH_MM]
    if not near:
        return None
    return max(near, key=lambda s: (int(s[1].sum()), -abs(s[0] - middle)))


class _Planes:
    """Reformatted planes and their model inputs, computed once each."""

    def __init__(self, volume: Volume, window: tuple[float, float]) -> None:
        self.volume, self.window = volume, window
        self._images: dict[int, Radiograph] = {}
        self._units: dict[int, np.ndarray] = {}

    def image(self, plane: int) -> Radiograph:
        if plane not in self._images:
            self._images[plane] = sagittal_plane(self.volume, plane)
        return self._images[plane]

    def unit(self, plane: int) -> np.ndarray:
        if plane not in self._units:
            self._units[plane] = ct_unit(self.image(plane).pixels, self.window)
        return self._units[plane]


def _scan(analyzer: "Analyzer", planes: _Planes, indices: list[int], size: int,
          timings: dict[str, float]) -> Job[tuple[list, list, preprocess.FilmTransform]]:
    """Film network + per-plane parse over ``indices``; yields progress per batch."""
    per_plane, sacra, transform = [], [], None
    for start in range(0, len(indices), FILM_BATCH):
        chunk = indices[start:start + FILM_BATCH]
        yield Progress("network", 0.05 + 0.6 * start / len(indices),
                       f"Finding vertebral bodies: plane {start + 1}–{start + len(chunk)} "
                       f"of {len(indices)} scanned")
        t0 = time.perf_counter()
        inputs, usable = [], []
        for p in chunk:
            try:
                film_input, transform = preprocess.prepare_film(planes.unit(p), size,
                                                                raw_unit=True)
            except preprocess.PreprocessError:
                continue  # a constant plane (outside the patient): nothing to find there
            inputs.append(film_input)
            usable.append(p)
        timings["reformat"] += time.perf_counter() - t0
        if not inputs:
            continue
        t0 = time.perf_counter()
        films = analyzer.run_films(np.stack(inputs))
        timings["network"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        for p, film in zip(usable, films):
            bodies, sacrum = postprocess.find_bodies(film.fracture, film.level, film.centre,
                                                     transform.content_box)
            per_plane.append((p, bodies))
            if sacrum is not None:
                sacra.append((p, sacrum))
        timings["postprocess"] += time.perf_counter() - t0
    if transform is None:  # every plane was empty: the geometry of an empty plane
        transform = preprocess.letterbox(np.zeros(planes.image(indices[0]).pixels.shape,
                                                  np.float32), size)[1]
    return per_plane, sacra, transform


def _keep(tracks: list[_Track], step: int, spacing: float, scanned: int) -> list[_Track]:
    """Tracks wide enough to be vertebral bodies (all of them when the scan itself is narrower)."""
    need = MIN_EXTENT_MM / spacing
    if scanned * step < need:
        return tracks
    return [t for t in tracks if t.extent_planes(step) >= need]


def _crops(planes: _Planes, parse: FilmParse, track_of: dict[int, _Track],
           transform: preprocess.FilmTransform, spec: dict) -> tuple[np.ndarray, list, list[int]]:
    """One canonical crop per body, cut from that body's own mid-sagittal plane."""
    size = int(spec["body_size"])
    if not parse.bodies:
        return np.zeros((0, size, size), np.float32), [], []
    mids = [track_of[id(b)].mid_plane() for b in parse.bodies]
    centres = transform.to_source(np.array([b.centre for b in parse.bodies]))
    angles = postprocess.column_angles(centres)
    crops, tfs = [], []
    for body, plane, centre, angle in zip(parse.bodies, mids, centres, angles):
        side = assemble.film_crop_side(body.area, transform, spec)
        matrix = preprocess.crop_matrix(centre, float(angle), side, size, False)
        crop, tf = preprocess.extract_crop(planes.unit(plane), matrix, size)
        crops.append(crop)
        tfs.append(tf)
    return np.stack(crops), tfs, mids


def analyze_volume(analyzer: "Analyzer", volume: Volume) -> Job[Proposal]:
    """Generator job: yields Progress, returns a Proposal with each body on its own plane."""
    from vcfviewer import __version__

    timings = {"reformat": 0.0, "network": 0.0, "postprocess": 0.0, "measure": 0.0}
    spec = analyzer.card.input
    planes = _Planes(volume, window_of(spec))
    yield Progress("reformat", 0.0, "Finding the spine's mid-sagittal plane")
    t0 = time.perf_counter()
    indices = scan_planes(volume)
    mid = mid_sagittal_index(volume)
    spacing = plane_spacing_mm(volume)
    step = max(1, int(round(SCAN_STEP_MM / spacing)))
    timings["reformat"] += time.perf_counter() - t0
    per_plane, sacra, transform = yield from _scan(analyzer, planes, indices,
                                                   int(spec["film_size"]), timings)
    yield Progress("postprocess", 0.7, "Following bodies across planes and numbering levels")
    t0 = time.perf_counter()
    tracks = _keep(link_tracks(per_plane, step), step, spacing, len(indices))
    middle = column_middle(tracks)
    tracks = _in_column(tracks, middle, spacing)
    candidates = [t.candidate() for t in tracks]
    track_of = {id(c): t for c, t in zip(candidates, tracks)}
    sacrum = _best_sacrum(sacra, mid if middle is None else middle, spacing)
    parse = postprocess.number_levels(candidates, None if sacrum is None else sacrum[1],
                                      drop_cut=False)
    crops, crop_tfs, mids = _crops(planes, parse, track_of, transform, spec)
    timings["postprocess"] += time.perf_counter() - t0
    yield Progress("network", 0.8, f"Measuring {len(crops)} bodies on their mid-sagittal planes")
    t0 = time.perf_counter()
    body_out = analyzer.run_bodies(crops)
    timings["network"] += time.perf_counter() - t0
    yield Progress("measure", 0.9, "Grading")
    t0 = time.perf_counter()
    column_plane = int(np.median(mids)) if mids else mid
    annotation, study_p = assemble.build_annotation(
        planes.image(column_plane), parse, transform, crop_tfs, body_out,
        SimpleNamespace(inverted=0.0), analyzer.threshold, analyzer.card,
        software_version=__version__)
    annotation = _on_planes(annotation, parse, mids, sacrum, sagittal_count(volume))
    timings["measure"] += time.perf_counter() - t0
    yield Progress("measure", 1.0, "Done")
    return Proposal(annotation=annotation, device=analyzer.device_name,
                    timings_s=tuple(timings.items()), study_fracture_probability=study_p)


def _on_planes(annotation, parse: FilmParse, mids: list[int],
               sacrum: tuple[int, np.ndarray] | None, count: int):
    """Name each finding's plane and make the annotation a whole-volume one."""
    plane_of = dict(zip(parse.levels, mids))
    if sacrum is not None:
        plane_of["S1"] = sacrum[0]
    findings = tuple(replace(f, plane_index=plane_of.get(f.level)) for f in annotation.findings)
    image = replace(annotation.image, plane_index=None, plane_count=count)
    return replace(annotation, image=image, findings=findings)
