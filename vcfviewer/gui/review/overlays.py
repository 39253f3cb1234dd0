"""Drawing the review overlays: body masks, endplates and height lines, level labels with grade
badges, the selection outline, the legend, and on CT the ghosts of bodies measured on other planes.

Every item is positioned in source-image pixels through the image view's ``OverlayLayer``; text
and pens keep their size on screen, so the marks stay readable at any zoom. Groups whose content
did not change are left alone (a landmark drag redraws lines and labels, never the masks).
Colours come from ``io.key_image`` so the screen and the exported key image agree. On a CT plane
the bodies measured on other sagittal planes are drawn as faint outlines with a dimmed
label naming their plane, so the reader sees the whole column while scrolling; they cannot be
edited there.
"""

from __future__ import annotations

import html
from collections.abc import Hashable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QLabel, QWidget

from vcfviewer.core.annotation import HEIGHT_PAIRS, StudyAnnotation, VertebraFinding
from vcfviewer.core.morphometry import StudyMeasurements, VertebraMeasurement
from vcfviewer.gui.review import geometry
from vcfviewer.gui.viewer.overlay import OverlayLayer
from vcfviewer.io import body_masks
from vcfviewer.io.key_image import GRADE_COLOURS, badge_text, level_colour

# Bottom to top; "handles" and "placing" belong to the landmark tools but are created here so
# the stacking order never depends on which tool ran first.
GROUPS: tuple[str, ...] = ("masks", "ghosts", "outlines", "heights", "selection", "labels",
                           "handles", "placing")
MARK_GROUPS: tuple[str, ...] = ("ghosts", "outlines", "heights", "handles")
# Faint by transparency, not by dashes: a dashed pen costs about 4x as much to paint at zoom.
GHOST_COLOUR = "#a0c9d3dd"  # #AARRGGBB
GHOST_TEXT_COLOUR = "#aab4be"
ENDPLATE_COLOUR = "#7fdcff"
HEIGHT_COLOUR = "#ffffff"
SELECTED_COLOUR = "#ffe14d"
GRADE_NAMES = {0: "normal", 1: "mild", 2: "moderate", 3: "severe"}
LABEL_POINT_SIZE = 11
LABEL_GAP_PX = 24  # screen pixels between label rows (a label is about 20 px tall)
FLAG_COLOUR = "#ffb000"
SACRUM_GREY = (150, 150, 150)


def qcolor(rgb: tuple[int, int, int], alpha: int = 255) -> QColor:
    """A QColor from an (r, g, b) tuple."""
    return QColor(rgb[0], rgb[1], rgb[2], alpha)


def body_colour(finding: VertebraFinding, scheme: str) -> tuple[int, int, int]:
    """The colour of a body: its level's hue, or its decided grade's colour."""
    if scheme == "grade":
        # The sacrum anchors the numbering and is never graded: neutral, not "normal" green.
        return SACRUM_GREY if finding.is_sacrum else GRADE_COLOURS[int(finding.grade)]
    return level_colour(finding.level)


def _segments(findings: list[VertebraFinding], pairs: tuple[tuple[int, int], ...]
              ) -> tuple[np.ndarray, np.ndarray]:
    points = [f.landmarks[[a, b]] for f in findings if f.landmarks is not None for a, b in pairs]
    if not points:
        return np.zeros(0), np.zeros(0)
    stacked = np.vstack(points)
    return stacked[:, 0], stacked[:, 1]


ENDPLATES = ((0, 1), (1, 2), (3, 4), (4, 5))
HEIGHTS = tuple(HEIGHT_PAIRS.values())


def label_html(finding: VertebraFinding, measurement: VertebraMeasurement | None,
               scheme: str) -> str:
    """Rich text of a body's label: level, grade badge ("2?" when borderline), edit marks."""
    colour = "#ffffff" if scheme == "grade" else QColor(*level_colour(finding.level)).name()
    parts = [f'<span style="color:{colour}; font-weight:bold">{html.escape(finding.level)}</span>']
    badge = badge_text(finding, measurement)
    if badge:
        fill = QColor(*GRADE_COLOURS[int(finding.grade)]).name()
        parts.append(f'<span style="background-color:{fill}; color:#000000; font-weight:bold">'
                     f'&nbsp;{html.escape(badge)}&nbsp;</span>')
    if (measurement is not None and measurement.measurable
            and int(measurement.measured_grade) != int(finding.grade)):
        parts.append(f'<span style="color:{FLAG_COLOUR}; font-weight:bold">≠</span>')
    if measurement is not None and not measurement.measurable and not finding.is_sacrum:
        parts.append(f'<span style="color:{FLAG_COLOUR}">⚠</span>')
    if finding.reader_edited:
        parts.append('<span style="color:#b9c2cc">✎</span>')
    return "&nbsp;".join(parts)


class OverlayPainter:
    """Keeps the overlay groups in step with an annotation (see module docstring).

    Lines live in a few long-lived curve items whose data is replaced, and labels are updated in
    place, so one drag step costs a handful of setData calls instead of rebuilding the scene.
    """

    def __init__(self, layer: OverlayLayer) -> None:
        self.layer = layer
        for name in GROUPS:
            layer.set_items(name, [])
        self._signatures: dict[str, Hashable] = {}
        self._curves: dict[str, list[pg.PlotCurveItem]] = {}
        self.label_items: dict[str, pg.TextItem] = {}
        self._label_specs: dict[str, tuple] = {}
        self._mask_count = 0
        self._pixel = 1.0

    def clear(self) -> None:
        """Remove every review mark (handles and placing guides are their tools' business)."""
        for name in ("masks", "ghosts", "outlines", "heights", "selection", "labels"):
            self.layer.clear(name)
        self._signatures.clear()
        self.label_items, self._label_specs = {}, {}
        self._mask_count = 0

    def draw(self, annotation: StudyAnnotation, ms: StudyMeasurements, selected: str | None,
             scheme: str, pixel: float = 1.0,
             ghosts: Sequence[tuple[VertebraFinding, int]] = ()) -> None:
        """Bring every group up to date; groups that did not change are not touched.

        ``pixel`` is the height of one screen pixel in image rows, to keep labels apart.
        ``ghosts`` are CT bodies measured on other planes, with their plane (outline and label).
        """
        self._pixel = pixel
        self._draw_masks(annotation, scheme)
        self._draw_ghosts(annotation, ghosts)
        findings = [f for f in annotation.findings if f.landmarks is not None]
        points = tuple(_points_key(f) for f in findings)
        if self._changed("lines", points):
            self._curve("outlines", 0, ENDPLATE_COLOUR, 1.2).setData(
                *_segments(findings, ENDPLATES), connect="pairs")
            self._curve("heights", 0, HEIGHT_COLOUR, 1.4).setData(
                *_segments(findings, HEIGHTS), connect="pairs")
        chosen = next((f for f in annotation.findings if f.finding_id == selected), None)
        if self._changed("selection", None if chosen is None else _points_key(chosen)):
            self._draw_selection(chosen, annotation)
        self._draw_labels(annotation, ms, selected, scheme, ghosts)

    def _changed(self, key: str, signature: Hashable) -> bool:
        # Items the image view cleared (a new image) count as changed.
        if self._signatures.get(key, object()) == signature and self._intact(key):
            return False
        self._signatures[key] = signature
        return True

    def _intact(self, key: str) -> bool:
        if key == "masks":
            return len(self.layer.items("masks")) == self._mask_count
        groups = {"lines": ("outlines", "heights"), "selection": ("selection",),
                  "ghosts": ("ghosts",)}[key]
        return all(any(c is i for i in self.layer.items(g))
                   for g in groups for c in self._curves.get(g, []))

    def _curve(self, group: str, index: int, colour: str, width: float) -> pg.PlotCurveItem:
        curves = self._curves.setdefault(group, [])
        while len(curves) <= index:
            curves.append(pg.PlotCurveItem())
        curve = curves[index]
        curve.setPen(pg.mkPen(QColor(colour), width=width))
        if not any(curve is item for item in self.layer.items(group)):
            self.layer.set_items(group, curves)
        return curve

    def _draw_selection(self, finding: VertebraFinding | None, annotation: StudyAnnotation) -> None:
        outline_xy, heights_xy = _selection_data(finding, annotation)
        self._curve("selection", 0, SELECTED_COLOUR, 2.5).setData(*outline_xy)
        self._curve("selection", 1, SELECTED_COLOUR, 2.0).setData(*heights_xy, connect="pairs")

    def _draw_ghosts(self, annotation: StudyAnnotation,
                     ghosts: Sequence[tuple[VertebraFinding, int]]) -> None:
        signature = tuple((_mask_key(f), _points_key(f)) for f, _ in ghosts)
        if not self._changed("ghosts", signature):
            return
        shape = (annotation.image.rows, annotation.image.columns)
        xs, ys = geometry.ghost_polylines([f for f, _ in ghosts], shape)
        self._curve("ghosts", 0, GHOST_COLOUR, 1.2).setData(
            xs, ys, connect="finite")

    def _draw_masks(self, annotation: StudyAnnotation, scheme: str) -> None:
        signature = tuple((_mask_key(f), body_colour(f, scheme)) for f in annotation.findings)
        if not self._changed("masks", signature):
            return
        composite = mask_composite(annotation, scheme)
        items = [] if composite is None else [_indexed_item(*composite)]
        self.layer.set_items("masks", items)
        self._mask_count = len(items)

    def _draw_labels(self, annotation: StudyAnnotation, ms: StudyMeasurements,
                     selected: str | None, scheme: str,
                     ghosts: Sequence[tuple[VertebraFinding, int]] = ()) -> None:
        left = geometry.anterior_is_left(list(annotation.findings) + [f for f, _ in ghosts])
        entries = [(f, None) for f in annotation.findings] + list(ghosts)
        anchors: dict[str, tuple[float, float]] = {}
        for finding, _ in entries:
            anchor = geometry.label_anchor(finding, left)
            if anchor is not None:
                anchors[finding.finding_id] = anchor
        # Two bodies at nearly the same height (a double detection, a transitional level) must
        # not print their labels on top of each other: rows are spread in screen pixels.
        rows = geometry.declutter([y for _, y in anchors.values()], LABEL_GAP_PX * self._pixel)
        planes = {f.finding_id: (f, plane) for f, plane in entries}
        specs: dict[str, tuple] = {}
        for (fid, (x, _)), y in zip(anchors.items(), rows, strict=True):
            finding, plane = planes[fid]
            text = (ghost_label_html(finding, plane) if plane is not None
                    else label_html(finding, ms.by_id.get(fid), scheme))
            specs[fid] = (text, (x, y), left, fid == selected, plane is not None)
        present = self.layer.items("labels")
        cleared = bool(self.label_items) and not any(
            item is next(iter(self.label_items.values())) for item in present)
        if set(specs) != set(self.label_items) or cleared:
            self.label_items = {fid: _label(*spec) for fid, spec in specs.items()}
            self.layer.set_items("labels", list(self.label_items.values()))
        else:
            for fid, spec in specs.items():
                if spec != self._label_specs.get(fid):
                    _update_label(self.label_items[fid], *spec)
        self._label_specs = specs


def ghost_label_html(finding: VertebraFinding, plane: int) -> str:
    """A dimmed label for a body measured on another plane: level and that plane (1-based)."""
    return (f'<span style="color:{GHOST_TEXT_COLOUR}">{html.escape(finding.level)}'
            f' · plane {plane + 1}</span>')


def mask_composite(annotation: StudyAnnotation, scheme: str
                   ) -> tuple[np.ndarray, np.ndarray, int, int] | None:
    """Every body's mask as ONE indexed image over their joint box: (index, lut, top, left).

    ``index`` is uint8 (0 = no body, k = k-th body) and ``lut`` its (256, 4) RGBA colours: one
    image item and one byte per pixel instead of an RGBA item per body, so showing a new analysis
    stays one quick step. Where masks overlap, the lower body wins (drawn last).
    """
    shape = (annotation.image.rows, annotation.image.columns)
    crops = []
    for finding in annotation.findings:
        crop = body_masks.finding_crop(finding, shape)
        if crop is not None and crop[2].size:
            crops.append((crop, body_colour(finding, scheme)))
    if not crops:
        return None
    top = min(c[0][0] for c in crops)
    left = min(c[0][1] for c in crops)
    bottom = max(c[0][0] + c[0][2].shape[0] for c in crops)
    right = max(c[0][1] + c[0][2].shape[1] for c in crops)
    index = np.zeros((bottom - top, right - left), dtype=np.uint8)
    lut = np.zeros((256, 4), dtype=np.uint8)
    for k, ((t, l, mask), (r, g, b)) in enumerate(crops[:255], start=1):
        region = index[t - top: t - top + mask.shape[0], l - left: l - left + mask.shape[1]]
        region[mask] = k
        lut[k] = (r, g, b, 255)
    return index, lut, top, left


def _indexed_item(index: np.ndarray, lut: np.ndarray, top: int, left: int) -> pg.ImageItem:
    # levels (0, 255) with a 256-entry table: each byte picks its colour, no rescaling.
    item = pg.ImageItem(index, lut=lut, levels=(0, 255), autoLevels=False)
    item.setPos(float(left), float(top))
    return item


def _points_key(finding: VertebraFinding) -> Hashable:
    points = finding.landmarks
    return (finding.finding_id, None if points is None else points.tobytes())


def _mask_key(finding: VertebraFinding) -> Hashable:
    # A body without a mask of its own is drawn from its landmark polygon, which moves with them.
    if finding.mask is not None:
        return (finding.finding_id, id(finding.mask.array), finding.mask.top, finding.mask.left)
    return _points_key(finding)


def _selection_data(finding: VertebraFinding | None, annotation: StudyAnnotation
                    ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(outline x, y) and (height segments x, y) of the selected body; empty when none."""
    empty = (np.zeros(0), np.zeros(0))
    if finding is None:
        return empty, empty
    polygon = geometry.outline(finding)
    if polygon is None:
        crop = body_masks.finding_crop(finding, (annotation.image.rows, annotation.image.columns))
        if crop is None:
            return empty, empty
        top, left, mask = crop
        h, w = mask.shape
        polygon = np.array([[left, top], [left + w, top], [left + w, top + h], [left, top + h]],
                           dtype=float)
    closed = np.vstack([polygon, polygon[:1]])
    heights = _segments([finding], HEIGHTS) if finding.landmarks is not None else empty
    return (closed[:, 0], closed[:, 1]), heights


def _label(text: str, anchor: tuple[float, float], left: bool, selected: bool,
           ghost: bool = False) -> pg.TextItem:
    item = pg.TextItem(anchor=(1.0, 0.5) if left else (0.0, 0.5), fill=pg.mkBrush(0, 0, 0, 170))
    font = QFont()
    font.setPointSize(LABEL_POINT_SIZE)
    item.setFont(font)
    _update_label(item, text, anchor, left, selected, ghost)
    return item


def _update_label(item: pg.TextItem, text: str, anchor: tuple[float, float], left: bool,
                  selected: bool, ghost: bool = False) -> None:
    item.setHtml(text)
    item.setAnchor((1.0, 0.5) if left else (0.0, 0.5))
    item.border = pg.mkPen(QColor(SELECTED_COLOUR), width=1.5) if selected else pg.mkPen(None)
    # A ghost's label stays readable but recedes behind the labels of the plane on screen.
    item.fill = pg.mkBrush(0, 0, 0, 110 if ghost else 170)
    item.setOpacity(0.8 if ghost else 1.0)
    item.setPos(float(anchor[0]), float(anchor[1]))
    item.update()


def legend_html(scheme: str, ct: bool = False) -> str:
    """The legend's rich text for a colour scheme (three short lines, four on CT: it sits on the
    view, and the film matters more than the key to it)."""
    badge = QColor(*GRADE_COLOURS[2]).name()
    if scheme == "grade":
        swatches = " ".join(f'<span style="color:{QColor(*GRADE_COLOURS[g]).name()}">■</span>{g}'
                            for g in GRADE_NAMES)
        first = f"Colour = decided grade {swatches}"
    else:
        first = "Colour = level"
    lines = [
        first + f' · <span style="background-color:{badge}; color:#000">&nbsp;2&nbsp;</span>'
        " grade, <b>?</b> borderline",
        f'<span style="color:{HEIGHT_COLOUR}">│</span> Ha Hm Hp · '
        f'<span style="color:{ENDPLATE_COLOUR}">─</span> endplates · ✎ edited',
        f'<span style="color:{FLAG_COLOUR}">≠</span> measured grade differs · '
        f'<span style="color:{FLAG_COLOUR}">⚠</span> not measurable',
    ]
    if ct:
        lines.append(f'<span style="color:{GHOST_TEXT_COLOUR}">▢</span> measured on another plane '
                     "(select it to go there)")
    return "<br>".join(lines)


class Legend(QObject):
    """A small legend in the image view's top-right corner (a widget: it never scales)."""

    MARGIN = 10

    def __init__(self, host: QWidget, below: QWidget | None = None) -> None:
        super().__init__(host)
        self._host = host
        self._below = below  # the corner label the legend sits under (CT plane text)
        self.label = QLabel(host)
        self.label.setObjectName("reviewLegend")
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.label.setStyleSheet("QLabel#reviewLegend { background: rgba(10, 12, 14, 190);"
                                 " color: #d8dde3; border: 1px solid #353b43;"
                                 " border-radius: 4px; padding: 3px 6px; font-size: 8pt; }")
        self.label.hide()
        self.enabled = True  # follows the labels toggle (L)
        host.installEventFilter(self)

    def show_for(self, scheme: str, ct: bool = False) -> None:
        """Show the legend of ``scheme`` (unless the reader hid the labels)."""
        text = legend_html(scheme, ct)
        changed = self.label.text() != text
        if changed:
            self.label.setText(text)
        if self.enabled and (changed or not self.label.isVisible()):
            self.label.show()
            self.place()

    def hide(self) -> None:
        """Take the legend off the view."""
        self.label.hide()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if watched is self._host and event.type() == QEvent.Type.Resize:
            self.place()
        return False

    def place(self) -> None:
        """Top-right, under the corner text when that is showing."""
        self.label.adjustSize()
        top = self.MARGIN
        if self._below is not None and self._below.isVisible():
            top = self._below.geometry().bottom() + 6
        self.label.move(max(self._host.width() - self.label.width() - self.MARGIN, 0), top)
