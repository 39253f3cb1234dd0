"""Bad inputs are refused with a clear message: damaged DICOM headers, corrupt annotation JSON,
model weights whose sha256 does not match their card."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "batch"))  # shared test-data helpers

from batch_support import dx_dataset, film_pixels, make_tiny_model  # noqa: E402


def test_a_length_that_swallows_the_header_gives_a_readable_reason(tmp_path: Path) -> None:
    # Regression (robustness run): SOPClassUID's length field grown so its value swallows the
    # rest of the header, raw bytes included; the "no pixel data" reason quoted all of it.
    ds = dx_dataset(film_pixels(32, 32))
    del ds.PixelData
    path = tmp_path / "swallow.dcm"
    ds.save_as(path, enforce_file_format=True)
    data = bytearray(path.read_bytes())
    at = data.find(b"\x08\x00\x16\x00UI", 132)  # (0008,0016) SOP Class UID, explicit VR LE
    data[at + 6: at + 8] = (len(data) - at - 8).to_bytes(2, "little")  # to the end of the file
    path.write_bytes(bytes(data))
    from vcfviewer.io.errors import LoadError
    from vcfviewer.io.loader import load_path_sync

    with pytest.raises(LoadError) as caught:
        load_path_sync(path)
    reason = caught.value.reason
    assert reason.startswith("no pixel data") and reason.isprintable() and len(reason) <= 300
    assert str(caught.value) == f"{path}: {reason}"


def test_load_error_reasons_are_one_printable_line() -> None:
    from vcfviewer.io.errors import LoadError

    err = LoadError("f.dcm", "bad value: " + "\x00\x01ab\ncd\t" * 200)
    assert err.reason.isprintable() and len(err.reason) == 300 and err.reason.endswith("…")
    assert err.reason.startswith("bad value: ab cd ab cd")
    assert LoadError("f.dcm", "short reason").reason == "short reason"


@pytest.mark.parametrize("text, field", [
    ("", ""), ('{"schema": "vcfviewer.annotation", "schema_version": 1, "image": ', ""),
    ("\x00\x01\x02garbage", ""), ("[1, 2, 3]", ""), ('{"schema_version": NaN}', ""),
    ('{"schema": "vcfviewer.annotation", "schema_version": 99}', "schema_version"),
])
def test_corrupt_annotation_json_is_refused_clearly(tmp_path: Path, text: str,
                                                    field: str) -> None:
    from vcfviewer.io.annotation_json import AnnotationFileError, read_annotation

    path = tmp_path / "study.annotation.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AnnotationFileError) as caught:
        read_annotation(path)
    assert str(path) in str(caught.value) and caught.value.reason
    if field:
        assert caught.value.field == field


def test_a_valid_annotation_with_a_damaged_field_names_the_field(tmp_path: Path) -> None:
    from vcfviewer.io.annotation_json import AnnotationFileError, annotation_to_json
    from vcfviewer.io.annotation_json import read_annotation
    from vcfviewer.core.annotation import ImageRef, Provenance, StudyAnnotation, VertebraFinding

    box = [[0, 0], [5, 0], [10, 0], [0, 10], [5, 10], [10, 10]]
    ann = StudyAnnotation(ImageRef("x.dcm", 40, 40, None), (VertebraFinding("L1", box),),
                          Provenance("t"))
    doc = json.loads(annotation_to_json(ann))
    doc["findings"][0]["grade"] = "severe-ish"
    path = tmp_path / "a.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(AnnotationFileError) as caught:
        read_annotation(path)
    assert "grade" in caught.value.field


def test_weights_whose_sha256_differs_are_refused(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    make_tiny_model(tmp_path / "good")
    shutil.copytree(tmp_path / "good", tmp_path / "bad")
    weights = tmp_path / "bad" / "vcf-lateral.safetensors"
    weights.write_bytes(weights.read_bytes()[:-8] + b"\x00" * 8)
    from vcfviewer.models.inference import Analyzer
    from vcfviewer.models.weights import WeightsError

    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path / "bad"))
    with pytest.raises(WeightsError, match=r"sha256 .* does not match the model card"):
        Analyzer(device="cpu")
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path / "good"))
    assert Analyzer(device="cpu").model_id == "vcf-lateral"
