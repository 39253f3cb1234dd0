"""Every knob of the simulator, with defaults that spread widely around typical films.

The defaults are deliberately broader than "typical": a model trained only on simulated films
transfers to real ones only if scale, field of view, exposure and processing vary more than a
single site's films do (SYNTH.md, "what a quick probe already showed").
"""

from __future__ import annotations

from dataclasses import dataclass


class SynthError(ValueError):
    """Invalid simulator options or an output that cannot be written."""


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise SynthError(f"SynthOptions.{name} must lie in [0, 1], got {value}")


@dataclass(frozen=True)
class SynthOptions:
    """Knobs of ``simulate``; every field has a sensible default.

    spacing_mm: pixel spacing at the patient plane; None draws 0.1–0.2 mm (detector-like, films
        1500–3000 px tall); set e.g. 0.5 to simulate directly at training resolution (fast).
    fracture_rate: probability that a study has at least one fracture.
    multiple_fracture_rate: given a fractured study, probability of a second (often adjacent)
        fracture; a third follows with this probability squared.
    grade_weights: relative frequency of Genant grades 1, 2, 3 among fractures.
    type_weights: relative frequency of wedge, biconcave, crush among fractures.
    facing_left_rate: probability the patient faces left (anterior on the image's left).
    monochrome1_rate: probability the DICOM is stored MONOCHROME1 (inverted grey scale).
    top_levels: candidate cranial-most levels of the field of view (T10–S1 … L1–S1).
    schmorl_rate / short_body_rate / physiological_wedge_rate / osteophyte_rate: per-study
        probabilities of each look-alike (each flagged in ``lookalikes`` and graded 0).
    transitional_rate: probability of transitional anatomy (an L6, or a sacralised L5).
    flat_back_rate: probability of an elderly flat or kyphotic lumbar spine over a retroverted
        pelvis (sacral slope 10–30°, lordosis up to 25° less: −15–25°; the natural draw is
        25–70° of lordosis).
        0 (the default) draws nothing extra, so earlier seeds give the same films.
    cement_rate: probability that a fractured study has vertebroplasty cement in one body.
    grid_rate: probability of visible anti-scatter grid lines.
    text_rate: probability of burned-in annotation text (a lead L/R marker is almost always there).
    collimation_rate: probability of visible collimator borders.
    shutter_black_rate: given collimation, probability the border is painted black (electronic
        shutter) rather than left bright (unexposed).
    exposure_range: relative detector dose (1 = typical); low is noisy, high saturates thin parts.
    scatter_range: scatter-to-primary ratio range (lateral lumbar films are scatter heavy).
    bowel_gas_rate: probability of bowel gas and faecal mottling anterior to the spine.
    max_rows: upper bound on the image height in pixels when spacing_mm is None.
    """

    spacing_mm: float | None = None
    fracture_rate: float = 0.6
    multiple_fracture_rate: float = 0.35
    grade_weights: tuple[float, float, float] = (0.3, 0.4, 0.3)
    type_weights: tuple[float, float, float] = (0.5, 0.3, 0.2)
    facing_left_rate: float = 0.5
    monochrome1_rate: float = 0.25
    top_levels: tuple[str, ...] = ("T10", "T11", "T12", "L1")
    schmorl_rate: float = 0.2
    short_body_rate: float = 0.1
    physiological_wedge_rate: float = 0.15
    osteophyte_rate: float = 0.4
    transitional_rate: float = 0.04
    flat_back_rate: float = 0.0
    cement_rate: float = 0.08
    grid_rate: float = 0.1
    text_rate: float = 0.7
    collimation_rate: float = 0.6
    shutter_black_rate: float = 0.5
    exposure_range: tuple[float, float] = (0.3, 3.0)
    scatter_range: tuple[float, float] = (0.4, 4.0)
    bowel_gas_rate: float = 0.85
    max_rows: int = 3000

    def __post_init__(self) -> None:
        if self.spacing_mm is not None and not 0.02 <= self.spacing_mm <= 5.0:
            raise SynthError(f"SynthOptions.spacing_mm must lie in [0.02, 5] mm, got {self.spacing_mm}")
        for name in ("fracture_rate", "multiple_fracture_rate", "facing_left_rate",
                     "monochrome1_rate", "schmorl_rate", "short_body_rate",
                     "physiological_wedge_rate", "osteophyte_rate", "transitional_rate",
                     "flat_back_rate",
                     "cement_rate", "grid_rate", "text_rate", "collimation_rate",
                     "shutter_black_rate", "bowel_gas_rate"):
            _check_rate(name, getattr(self, name))
        for name in ("grade_weights", "type_weights"):
            weights = getattr(self, name)
            if len(weights) != 3 or min(weights) < 0 or sum(weights) <= 0:
                raise SynthError(f"SynthOptions.{name} needs three non-negative weights, got {weights}")
        allowed = ("T8", "T9", "T10", "T11", "T12", "L1")
        if not self.top_levels or any(t not in allowed for t in self.top_levels):
            raise SynthError(f"SynthOptions.top_levels must be drawn from {allowed}, got {self.top_levels}")
        for name in ("exposure_range", "scatter_range"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise SynthError(f"SynthOptions.{name} must be 0 < low <= high, got {(low, high)}")
        if self.max_rows < 64:
            raise SynthError(f"SynthOptions.max_rows must be at least 64, got {self.max_rows}")
