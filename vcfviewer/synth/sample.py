"""The bundled sample study: three small simulated films that ``vcfviewer --sample`` opens.

1. ``film1_normal``: no fracture (MONOCHROME2, facing left);
2. ``film2_wedge``: one moderate (grade 2) wedge fracture (facing right);
3. ``film3_adjacent``: two adjacent fractures, one of them severe, stored MONOCHROME1.

Films are RLE-compressed DX files at 0.2 mm, at most 1600 px tall; the ground truth (annotation
JSON + label PNG) goes to ``truth/`` so the viewer never mistakes it for a reader's annotation.
Seeds are searched deterministically from fixed starting points, so regenerating gives the same
pixels (``vcfviewer synth --sample-study DIR``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from vcfviewer.synth.acquisition import sample_acquisition
from vcfviewer.synth.geometry import PlannedFilm, plan_film
from vcfviewer.synth.options import SynthError, SynthOptions
from vcfviewer.synth.simulate import SyntheticStudy, simulate

SAMPLE_SPACING = 0.2
SAMPLE_MAX_ROWS = 1600
_SEARCH = 2000


def _fractured(film: PlannedFilm) -> list:
    return [b for b in film.column.bodies if b.grade > 0 and b.level in film.included]


def _normal(film: PlannedFilm) -> bool:
    return not _fractured(film) and not film.transitional


def _wedge(film: PlannedFilm) -> bool:
    fx = _fractured(film)
    return len(fx) == 1 and fx[0].grade == 2 and fx[0].ftype == "wedge" and not fx[0].cement


def _adjacent(film: PlannedFilm) -> bool:
    fx = _fractured(film)
    if len(fx) != 2 or max(b.grade for b in fx) != 3 or any(b.cement for b in fx):
        return False
    order = list(film.included)
    return abs(order.index(fx[0].level) - order.index(fx[1].level)) == 1


@dataclass(frozen=True)
class SampleFilm:
    name: str
    start_seed: int
    options: SynthOptions
    wanted: Callable[[PlannedFilm], bool]


def _base(**changes: object) -> SynthOptions:
    common = dict(spacing_mm=SAMPLE_SPACING, top_levels=("T12", "L1"), transitional_rate=0.0,
                  text_rate=1.0, grid_rate=0.0, exposure_range=(1.5, 3.0), cement_rate=0.0)
    common.update(changes)
    return SynthOptions(**common)  # type: ignore[arg-type]


SAMPLE_FILMS: tuple[SampleFilm, ...] = (
    SampleFilm("film1_normal", 1000, _base(fracture_rate=0.0, facing_left_rate=1.0,
                                           monochrome1_rate=0.0), _normal),
    SampleFilm("film2_wedge", 2000, _base(fracture_rate=1.0, multiple_fracture_rate=0.0,
                                          grade_weights=(0.0, 1.0, 0.0), type_weights=(1.0, 0.0, 0.0),
                                          facing_left_rate=0.0, monochrome1_rate=0.0), _wedge),
    SampleFilm("film3_adjacent", 3000, _base(fracture_rate=1.0, multiple_fracture_rate=0.7,
                                             grade_weights=(0.2, 0.3, 0.5), facing_left_rate=1.0,
                                             monochrome1_rate=1.0), _adjacent),
)


def _uncollimated(film: PlannedFilm) -> bool:
    rows, cols = film.fov.rows, film.fov.cols
    return bool(np.array_equal(film.fov.field, [[-1.0, -1.0], [cols, -1.0], [cols, rows], [-1.0, rows]]))


def _looks_clear(seed: int, options: SynthOptions) -> bool:
    """The exposure draws of attempt 0 (same stream as ``simulate``) give a film a reader can read."""
    r = np.random.default_rng([seed, 0, 2])
    r.random(), r.random()  # facing, MONOCHROME1: fixed by the options here
    acq = sample_acquisition(r, options)
    return (acq.roi_window and 1.0 <= acq.gamma <= 1.5 and acq.drc_gain >= 0.5
            and acq.drc_sigma_mm <= 18.0 and acq.scatter <= 1.5 and acq.sigmoid <= 4.0
            and acq.usm_gain >= 0.3)


def find_seed(film: SampleFilm) -> int:
    """First seed from ``start_seed`` whose first attempt has the wanted disease and a clear film."""
    for seed in range(film.start_seed, film.start_seed + _SEARCH):
        planned = plan_film(np.random.default_rng([seed, 0, 0]), film.options)
        if (planned is not None and planned.fov.rows <= SAMPLE_MAX_ROWS and film.wanted(planned)
                and _uncollimated(planned) and _looks_clear(seed, film.options)):
            return seed
    raise SynthError(f"{film.name}: no suitable seed in {_SEARCH} tries")


def make_sample_study(out_dir: Path) -> dict[str, dict[str, Path]]:
    """Write the three sample films and their truth into ``out_dir`` (truth in ``truth/``)."""
    from vcfviewer.synth.writer import write_study

    out_dir = Path(out_dir)
    written = {}
    for number, film in enumerate(SAMPLE_FILMS, start=1):
        seed = find_seed(film)
        study = simulate(seed, film.options)
        _check(film, study)
        study = _as_one_study(study, film, number)
        # no label PNGs here: a folder scan would offer them as images (the JSON has the masks)
        written[film.name] = write_study(study, out_dir, film.name, compress=True,
                                         truth_dir=out_dir / "truth", labels=False)
    return written


def _as_one_study(study: SyntheticStudy, film: SampleFilm, number: int) -> SyntheticStudy:
    """One synthetic patient and study; each film its own series."""
    study_uid = "2.25.218398713491866427355473227135040337001"
    series_uid = f"2.25.21839871349186642735547322713504033700{number + 1}"
    r = study.radiograph
    patient = replace(r.patient, patient_name="SAMPLE^SYNTHETIC", patient_id="VCFSAMPLE",
                      study_description="Sample study (synthetic)",
                      series_description=f"LAT {film.name.split('_', 1)[1]}", series_number=number)
    source = replace(r.source, study_instance_uid=study_uid, series_instance_uid=series_uid)
    image = replace(study.annotation.image, study_instance_uid=study_uid, series_instance_uid=series_uid)
    return replace(study, radiograph=replace(r, patient=patient, source=source),
                   annotation=replace(study.annotation, image=image))


def _check(film: SampleFilm, study: SyntheticStudy) -> None:
    if study.meta["attempt"] != 0:
        raise SynthError(f"{film.name}: seed {study.meta['seed']} needed a retry; pick another")
