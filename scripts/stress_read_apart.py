"""Stress test for the read-apart check (``models.merged``): does a column whose crushed body was
read together with its neighbour come back whole?

    .venv/bin/python scripts/stress_read_apart.py DATA_DIR [--films 200] [--drawn-tall]
        [--without trimming] [--without look-again]

On every film of DATA_DIR (simulated DICOM films; the card's severe sets come from ``vcfviewer
synth DIR --count 200 --seed 830000 --fracture-rate 1 --grade-weights 0 0 1 --type-weights 0.2
0.2 0.6``, seed 831000 for the held-out one) the model reads the column as it would, then the first neighbouring pair that holds a body of grade >= 2 is merged into one body
(the convex hull of the two film-grid masks: one tall "body" over both and the disc between),
the column is measured again, and the read-apart check runs as in ``Analyzer.analyze``. A trial
counts as *restored* when the column measured after it has as many bodies as the film's own
parse, each centre within 0.35 of a typical body's size of its own. ``--without trimming``
turns off the trimming of overlapping readings (``merged.trimmed_pair``), ``--without
look-again`` the third crop past a vague reading (``merged.look_again``); both together leave
the rule as it was before them (distinct readings only).

``--drawn-tall`` is the control: no merge; instead the landmarks of the film's first interior
body the model calls normal are stretched to 1.5x its height downwards, as if the body network
had drawn it too tall into the disc and the body below. The tall note names it, the check
probes it, and any split that does not leave the film's own column is a false one.

The film's own parse, not the simulator's truth, is the reference: the question is only whether
the check undoes a merge, whatever the rest of the column's quality.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from vcfviewer.core.annotation import VertebraFinding
from vcfviewer.core.progress import run_to_completion
from vcfviewer.io.loader import load_path_sync
from vcfviewer.models import field, merged, postprocess, preprocess
from vcfviewer.models.inference import Analyzer

SAME_PLACE = 0.35  # x a typical body's size: a body this near its own centre is the same body
PARTS = {"trimming": "trimmed_pair", "look-again": "look_again"}  # --without: what it turns off
STRETCH = 1.5  # the control's body drawn this many times its height (the tall note: >= 1.4)


def hull(mask: np.ndarray) -> np.ndarray:
    """The filled convex hull of a boolean mask."""
    out = np.zeros(mask.shape, np.uint8)
    cv2.fillConvexPoly(out, cv2.convexHull(cv2.findNonZero(mask.astype(np.uint8))), 1)
    return out.astype(bool)


def same_column(reference: postprocess.FilmParse, got: postprocess.FilmParse) -> bool:
    if len(reference.bodies) != len(got.bodies):
        return False
    size = float(np.sqrt(np.median([b.area for b in reference.bodies])))
    return all(np.hypot(*(b.centre - g.centre)) <= SAME_PLACE * size
               for b, g in zip(reference.bodies, got.bodies))


class Trial:
    """One film: its reading, its parse as measured, and the grades by parse body."""

    def __init__(self, analyzer: Analyzer, path: Path):
        self.analyzer = analyzer
        self.image = load_path_sync(path)
        unit = preprocess.normalise_unit(self.image.pixels)
        self.reading = analyzer.read_film(unit, [])
        self.exposed = field.exposed_field(self.image.pixels)
        self.annotation, self.parse = self.measure(self.reading.parse)
        self.grades = {merged.parse_index(f, self.parse, self.reading.transform): int(f.grade)
                       for f in self.annotation.vertebrae if f.landmarks is not None}

    def measure(self, parse: postprocess.FilmParse):
        annotation, _, measured = run_to_completion(
            self.analyzer._measure(self.image, self.reading, parse, self.exposed, []))
        return annotation, measured

    def merged_parse(self) -> postprocess.FilmParse | None:
        """The parse with its first crushed body and the neighbour below (or above) as one."""
        bodies = self.parse.bodies
        pairs = [i for i in range(len(bodies) - 1)
                 if max(self.grades.get(i, 0), self.grades.get(i + 1, 0)) >= 2]
        if len(bodies) < 4 or not pairs:
            return None
        i = pairs[0]
        maps = (self.reading.film.fracture, self.reading.film.level)
        one = postprocess.body_candidate(hull(bodies[i].mask | bodies[i + 1].mask), *maps,
                                         self.reading.transform.content_box)
        rest = [b for k, b in enumerate(bodies) if k not in (i, i + 1)]
        return postprocess.renumbered(self.parse, rest + [one])

    def drawn_tall(self) -> tuple[VertebraFinding, ...] | None:
        """The film's findings with its first interior normal body stretched to 1.5x its height
        (inferior landmarks moved down its axis), or None when it has none."""
        measured = [f for f in self.annotation.vertebrae if f.landmarks is not None]
        normal = [f for f in measured[1:-1] if int(f.grade) == 0]
        if not normal:
            return None
        lm = normal[0].landmarks.copy()
        lm[3:] = lm[:3] + STRETCH * (lm[3:] - lm[:3])
        return tuple(replace(f, landmarks=lm) if f is normal[0] else f
                     for f in self.annotation.findings)

    def outcome(self, parse: postprocess.FilmParse,
                findings: tuple[VertebraFinding, ...] | None = None) -> tuple[bool, bool, bool]:
        """(named tall, split, column restored) after the read-apart check on ``parse``,
        measured afresh unless ``findings`` (the parse's, as drawn) are given."""
        a, reading = self.analyzer, self.reading
        measured = parse
        if findings is None:
            annotation, measured = self.measure(parse)
            findings = annotation.findings
        frame = merged.Frame.of(reading.unit, measured, reading.transform, a.card.input)
        tall = bool(merged.tall_probes(frame, findings, measured, a.threshold,
                                       self.image.spacing_mm))
        split = merged.read_apart(reading.unit, findings, measured, reading.transform,
                                  (reading.film.fracture, reading.film.level), a.card.input,
                                  a.threshold, self.image.spacing_mm, a.run_bodies)
        final = measured if split is None else self.measure(split)[1]
        return tall, split is not None, same_column(self.parse, final)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path)
    ap.add_argument("--films", type=int, default=200)
    ap.add_argument("--without", action="append", default=[], choices=PARTS,
                    help="turn off a part of the rule (repeatable)")
    ap.add_argument("--drawn-tall", action="store_true",
                    help="the control: one normal body drawn 1.5x too tall, nothing merged")
    args = ap.parse_args()
    for part in args.without:
        setattr(merged, PARTS[part], lambda *_: None)
    analyzer = Analyzer()
    counts: Counter[str] = Counter()
    for path in sorted(args.data.glob("*.dcm"))[:args.films]:
        trial = Trial(analyzer, path)
        if args.drawn_tall:
            findings = trial.drawn_tall()
            result = None if findings is None else trial.outcome(trial.parse, findings)
        else:
            parse = trial.merged_parse()
            result = None if parse is None else trial.outcome(parse)
        if result is None:
            counts["no body to try"] += 1
            continue
        tall, split, restored = result
        counts["tried"] += 1
        counts["named tall"] += tall
        counts["split"] += split
        counts["restored"] += restored
        counts["split, not restored"] += split and not restored
        print(f"{path.stem}: tall {int(tall)} split {int(split)} restored {int(restored)}",
              flush=True)
    for key in ("tried", "named tall", "split", "restored", "split, not restored",
                "no body to try"):
        print(f"{key:22s} {counts[key]}")


if __name__ == "__main__":
    main()
