"""The key image: the radiograph with its overlays as an RGB PNG, drawn without Qt.

Windowed greyscale, body masks tinted by level, the six landmarks, the Ha/Hm/Hp lines, a level
label beside each body and a grade badge: the decided grade, with "?" when the measured height
loss is borderline (within 3 points of 20/25/40 %), shown for fractured or borderline bodies.
A footer states SDI, unit and model (never patient data). OpenCV (headless) draws.

CT (``render_ct_key_image``): the column's middle sagittal plane (median of the bodies' planes)
with EVERY body drawn, also those measured on other planes (the key image is the reader's
summary), and a caption strip below the image naming the plane shown and, when the bodies lie on
different planes, the plane each one was measured on (numbered from 1, as the viewer shows them).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from vcfviewer.core import levels as _levels
from vcfviewer.core.annotation import BodyMask, HEIGHT_PAIRS, StudyAnnotation, VertebraFinding
from vcfviewer.core.image import Volume, Window
from vcfviewer.core.morphometry import StudyMeasurements, VertebraMeasurement, measure_study
from vcfviewer.io import atomic, body_masks

RGB = tuple[int, int, int]
# Twelve distinguishable hues cycled along the column, so neighbours never share a colour.
_HUES: tuple[RGB, ...] = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48), (145, 30, 180),
    (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (220, 190, 255),
)
GRADE_COLOURS: dict[int, RGB] = {0: (120, 200, 120), 1: (255, 210, 0), 2: (255, 140, 0),
                                 3: (230, 30, 30)}
LANDMARK_COLOUR: RGB = (0, 255, 255)
HEIGHT_LINE_COLOUR: RGB = (255, 255, 255)
MASK_ALPHA = 0.35
PNG_COMPRESSION = 1
CT_KEY_MIN_SIDE = 512  # pixels: CT key images of coarse reformats are enlarged to this
_SUBPIXEL = 4


def level_colour(level: str) -> RGB:
    """The overlay colour of a level (stable across studies)."""
    return _HUES[_levels.rank(level) % len(_HUES)]


def badge_text(finding: VertebraFinding, measurement: VertebraMeasurement | None) -> str | None:
    """"2", "2?" (borderline), "0?" — or None when the body needs no badge."""
    borderline = measurement is not None and measurement.measurable and measurement.borderline
    if finding.grade == 0 and not borderline:
        return None
    return f"{int(finding.grade)}{'?' if borderline else ''}"


def windowed_rgb(pixels: np.ndarray, window: Window) -> np.ndarray:
    """Greyscale pixels through ``window`` as (H, W, 3) uint8 (NaN shows black)."""
    scaled = np.asarray(pixels, np.float32) - np.float32(window.low)
    scaled *= np.float32(255.0 / window.width)
    scaled += np.float32(0.5)
    np.clip(scaled, 0, 255, out=scaled)
    np.nan_to_num(scaled, copy=False, nan=0.0)
    grey = scaled.astype(np.uint8)
    return np.repeat(grey[:, :, np.newaxis], 3, axis=2)


def _style(shape: tuple[int, ...]) -> tuple[float, int]:
    short = min(shape[0], shape[1])
    return max(0.3, short / 900.0), max(1, round(short / 700.0))


def _pt(xy: np.ndarray) -> tuple[int, int]:
    return int(round(xy[0] * (1 << _SUBPIXEL))), int(round(xy[1] * (1 << _SUBPIXEL)))


def _draw_masks(rgb: np.ndarray, annotation: StudyAnnotation) -> None:
    for finding in annotation.findings:
        crop = body_masks.finding_crop(finding, rgb.shape[:2])
        if crop is None:
            continue
        top, left, mask = crop
        region = rgb[top: top + mask.shape[0], left: left + mask.shape[1]]
        colour = np.array(level_colour(finding.level), np.float64)
        blended = (1 - MASK_ALPHA) * region[mask] + MASK_ALPHA * colour + 0.5
        region[mask] = blended.astype(np.uint8)


def _draw_geometry(rgb: np.ndarray, finding: VertebraFinding, thickness: int) -> None:
    import cv2

    if finding.landmarks is None:
        return
    for sup, inf in HEIGHT_PAIRS.values():
        cv2.line(rgb, _pt(finding.landmarks[sup]), _pt(finding.landmarks[inf]),
                 HEIGHT_LINE_COLOUR, thickness, cv2.LINE_AA, _SUBPIXEL)
    radius = (thickness + 1) << _SUBPIXEL
    for point in finding.landmarks:
        cv2.circle(rgb, _pt(point), radius, LANDMARK_COLOUR, -1, cv2.LINE_AA, _SUBPIXEL)


def _label_anchor(finding: VertebraFinding, rgb: np.ndarray, width: int) -> tuple[int, int] | None:
    try:
        centre = finding.centre()
    except ValueError:
        return None
    if finding.landmarks is not None:
        right = float(finding.landmarks[:, 0].max())
        left = float(finding.landmarks[:, 0].min())
    else:
        right = left = float(centre[0])
    x = right + 6 if right + 6 + width < rgb.shape[1] else left - 6 - width
    return int(max(0, x)), int(centre[1])


def _draw_label(rgb: np.ndarray, finding: VertebraFinding, badge: str | None,
                scale: float, thickness: int) -> None:
    import cv2

    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), base = cv2.getTextSize(finding.level, font, scale, thickness)
    (bw, bh), _ = cv2.getTextSize(badge or "", font, scale, thickness)
    anchor = _label_anchor(finding, rgb, tw + (bw + 8 if badge else 0))
    if anchor is None:
        return
    x, y = anchor[0], anchor[1] + th // 2
    # a dark shadow keeps the label readable on bright bone
    cv2.putText(rgb, finding.level, (x + 1, y + 1), font, scale, (0, 0, 0), thickness + 1,
                cv2.LINE_AA)
    cv2.putText(rgb, finding.level, (x, y), font, scale, level_colour(finding.level), thickness,
                cv2.LINE_AA)
    if badge:
        bx = x + tw + 6
        cv2.rectangle(rgb, (bx - 2, y - bh - 3), (bx + bw + 2, y + base),
                      GRADE_COLOURS[int(finding.grade)], -1)
        cv2.putText(rgb, badge, (bx, y), font, scale, (0, 0, 0), thickness, cv2.LINE_AA)


def _draw_footer(rgb: np.ndarray, annotation: StudyAnnotation, ms: StudyMeasurements,
                 scale: float, thickness: int) -> None:
    import cv2

    prov = annotation.provenance
    model = f"{prov.model_id} {prov.model_version or ''}".strip() if prov.model_id else "no model"
    text = f"SDI {ms.sdi}  {ms.unit}  {model}  vcfviewer {prov.software_version}"
    font, size = cv2.FONT_HERSHEY_SIMPLEX, scale * 0.8
    (tw, th), _ = cv2.getTextSize(text, font, size, thickness)
    y = rgb.shape[0] - 6
    # a black band keeps the footer readable where the film's border is white
    cv2.rectangle(rgb, (0, y - th - 4), (min(tw + 10, rgb.shape[1] - 1), rgb.shape[0] - 1),
                  (0, 0, 0), -1)
    cv2.putText(rgb, text, (5, y), font, size, (255, 255, 255), thickness, cv2.LINE_AA)


def render_key_image(pixels: np.ndarray, window: Window, annotation: StudyAnnotation,
                     measurements: StudyMeasurements | None = None) -> np.ndarray:
    """The key image as (H, W, 3) uint8 RGB."""
    if pixels.shape != (annotation.image.rows, annotation.image.columns):
        raise ValueError(f"pixels {pixels.shape} do not match the annotated image "
                         f"({annotation.image.rows}, {annotation.image.columns})")
    ms = measurements if measurements is not None else measure_study(annotation)
    rgb = windowed_rgb(pixels, window)
    _draw_masks(rgb, annotation)
    scale, thickness = _style(rgb.shape)
    for finding in annotation.findings:
        _draw_geometry(rgb, finding, thickness)
    for finding in annotation.findings:
        _draw_label(rgb, finding, badge_text(finding, ms.by_id.get(finding.finding_id)),
                    scale, thickness)
    _draw_footer(rgb, annotation, ms, scale, thickness)
    return rgb


def plane_caption(annotation: StudyAnnotation, shown: int, count: int | None) -> list[str]:
    """Caption phrases for a CT key image: the plane shown, and each body's plane if they differ."""
    of = f" of {count}" if count else ""
    planes = [(f.level, annotation.plane_of(f)) for f in annotation.findings]
    if len({p for _, p in planes if p is not None}) <= 1:
        return [f"sagittal plane {shown + 1}{of}"]
    return [f"sagittal plane {shown + 1}{of} shown; bodies measured on planes:"] + [
        f"{level} {plane + 1}" for level, plane in planes if plane is not None]


def _wrapped(phrases: list[str], width: int, scale: float, thickness: int) -> list[str]:
    """Phrases joined into lines no wider than ``width`` pixels (the first phrase on its own)."""
    import cv2

    lines, current = [phrases[0]], ""
    for phrase in phrases[1:]:
        trial = f"{current}, {phrase}" if current else phrase
        fits = cv2.getTextSize(trial, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)[0][0] <= width
        if current and not fits:
            lines.append(current)
            trial = phrase
        current = trial
    return lines + ([current] if current else [])


def _with_caption(rgb: np.ndarray, phrases: list[str]) -> np.ndarray:
    """``rgb`` with a black caption strip below it (never over the anatomy)."""
    import cv2

    scale, thickness = _style(rgb.shape)
    scale *= 0.8
    lines = _wrapped(phrases, rgb.shape[1] - 10, scale, thickness)
    step = cv2.getTextSize("Ag", cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)[0][1] * 2 + 2
    strip = np.zeros((step * len(lines) + step // 2, rgb.shape[1], 3), np.uint8)
    for i, line in enumerate(lines):
        cv2.putText(strip, line, (5, step * (i + 1) - step // 4), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return np.concatenate([rgb, strip], axis=0)


def _scaled_finding(finding: VertebraFinding, factor: int) -> VertebraFinding:
    """The finding on an image enlarged ``factor`` times (pixel centres map to pixel centres)."""
    landmarks = None if finding.landmarks is None else finding.landmarks * factor + (factor - 1) / 2
    mask = finding.mask
    if mask is not None:
        grown = np.repeat(np.repeat(mask.array, factor, axis=0), factor, axis=1)
        mask = BodyMask(mask.top * factor, mask.left * factor, grown)
    return replace(finding, landmarks=landmarks, mask=mask)


def _enlarged(pixels: np.ndarray, annotation: StudyAnnotation,
              factor: int) -> tuple[np.ndarray, StudyAnnotation]:
    import cv2

    if factor == 1:
        return pixels, annotation
    big = cv2.resize(np.asarray(pixels, np.float32), None, fx=factor, fy=factor,
                     interpolation=cv2.INTER_LINEAR)
    image = replace(annotation.image, rows=big.shape[0], columns=big.shape[1])
    findings = tuple(_scaled_finding(f, factor) for f in annotation.findings)
    return big, replace(annotation, image=image, findings=findings)


def render_ct_key_image(volume: Volume, annotation: StudyAnnotation,
                        measurements: StudyMeasurements | None = None) -> np.ndarray:
    """The CT key image (see module docstring) as (H + caption, W, 3) uint8 RGB.

    A coarse reformat (3 mm voxels give a 100-pixel-wide plane) is enlarged by a whole factor
    until its short side reaches ``CT_KEY_MIN_SIDE`` so labels and badges stay legible.
    """
    from vcfviewer.core import reformat
    from vcfviewer.io import ct_export

    plane = ct_export.middle_plane(annotation)
    if plane is None:
        plane = annotation.image.plane_index
    if plane is None:
        plane = reformat.mid_sagittal_index(volume)
    image = reformat.sagittal_plane(volume, plane)
    ms = measurements if measurements is not None else measure_study(annotation)
    factor = max(1, -(-CT_KEY_MIN_SIDE // min(image.rows, image.columns)))
    pixels, shown = _enlarged(image.pixels, annotation, factor)
    rgb = render_key_image(pixels, image.window, shown, ms)
    count = annotation.image.plane_count or reformat.sagittal_count(volume)
    return _with_caption(rgb, plane_caption(annotation, plane, count))


def _write_png(rgb: np.ndarray, path: str | os.PathLike[str]) -> Path:
    import cv2

    # fast zlib level: a key image is written on every export; size matters less than time
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(rgb[:, :, ::-1]),
                               [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION])
    if not ok:
        raise atomic.ExportError(path, "the PNG encoder failed")
    return atomic.write_bytes(path, encoded.tobytes())


def write_key_image(pixels: np.ndarray, window: Window, annotation: StudyAnnotation,
                    measurements: StudyMeasurements | None, path: str | os.PathLike[str]) -> Path:
    """Render and write the key image as PNG, atomically."""
    return _write_png(render_key_image(pixels, window, annotation, measurements), path)


def write_ct_key_image(volume: Volume, annotation: StudyAnnotation,
                       measurements: StudyMeasurements | None,
                       path: str | os.PathLike[str]) -> Path:
    """Render and write the CT key image (``render_ct_key_image``) as PNG, atomically."""
    return _write_png(render_ct_key_image(volume, annotation, measurements), path)
