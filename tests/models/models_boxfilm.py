"""A crude drawn film: rectangles for bodies, a block for the sacrum (tests only)."""
import numpy as np
from vcfviewer.core.annotation import (BodyMask, FractureType, Grade, ImageRef, Provenance,
                                       StudyAnnotation, VertebraFinding)
from vcfviewer.core.image import Radiograph, SourceRef, SpacingSource, Window


def box_study(seed=0, rows=240, cols=160, spacing=1.0, fractured=("L2",), face_right=False):
    rng = np.random.default_rng(seed)
    img = rng.normal(0.2, 0.02, (rows, cols)).astype(np.float32)
    labels = np.zeros((rows, cols), np.int16)
    names = ["T12", "L1", "L2", "L3", "L4", "L5"]
    findings = []
    y = 12
    x0, w = 50, 40
    for i, name in enumerate(names):
        h = 26
        frac = name in fractured
        ha = h * (0.7 if frac else 1.0)
        top_ant = y + (h - ha)
        # Wedge: anterior (left) top lowered.
        poly_x = np.arange(x0, x0 + w)
        for xx in poly_x:
            t = (xx - x0) / (w - 1)
            ytop = top_ant * (1 - t) + y * t
            ys = np.arange(int(np.ceil(ytop)), y + h)
            img[ys, xx] = 0.8
            labels[ys, xx] = i + 1
        lm = [[x0, top_ant], [x0 + w / 2, (top_ant + y) / 2], [x0 + w - 1, y],
              [x0, y + h - 1], [x0 + w / 2, y + h - 1], [x0 + w - 1, y + h - 1]]
        grade = Grade.MODERATE if frac else Grade.NORMAL
        ftype = FractureType.WEDGE if frac else FractureType.NONE
        findings.append(VertebraFinding(level=name, landmarks=np.array(lm, float), grade=grade,
                                        fracture_type=ftype,
                                        mask=BodyMask.from_full(labels == i + 1)))
        y += h + 8
    sac = np.zeros((rows, cols), bool)
    sac[y:y + 30, x0 - 5:x0 + w + 10] = True
    img[sac] = 0.7
    labels[sac] = len(names) + 1
    findings.append(VertebraFinding(level="S1", landmarks=None, mask=BodyMask.from_full(sac)))
    if face_right:
        img, labels = img[:, ::-1].copy(), labels[:, ::-1].copy()
        fl = []
        for f in findings:
            m = BodyMask.from_full(f.mask.to_full((rows, cols))[:, ::-1])
            lmk = None if f.landmarks is None else np.column_stack([cols - 1 - f.landmarks[:, 0], f.landmarks[:, 1]])
            fl.append(VertebraFinding(level=f.level, landmarks=lmk, grade=f.grade,
                                      fracture_type=f.fracture_type, mask=m))
        findings = fl
    ref = ImageRef(path="box.dcm", rows=rows, columns=cols, pixel_spacing=(spacing, spacing),
                   spacing_source="PixelSpacing")
    ann = StudyAnnotation(image=ref, findings=tuple(findings),
                          provenance=Provenance(software_version="test", source="simulator"))
    rad = Radiograph(pixels=img, spacing_mm=(spacing, spacing),
                     spacing_source=SpacingSource.PIXEL_SPACING, window=Window(0.5, 1.0),
                     source=SourceRef(path="box.dcm"))
    return rad, ann, labels
