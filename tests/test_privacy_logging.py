"""Privacy: a patient's name and ID never reach logs, warnings or the console."""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "batch"))  # shared test-data helpers

from batch_support import (  # noqa: E402
    SENTINEL_ACCESSION, SENTINEL_ID, SENTINEL_NAME, dx_dataset, film_pixels, make_tiny_model,
)

SECRETS = ("Zzsentinel", "Qqpatient", SENTINEL_ID, SENTINEL_ACCESSION)


def _study(folder: Path) -> None:
    folder.mkdir(parents=True)
    ds = dx_dataset(film_pixels(seed=5), patient_name=SENTINEL_NAME, patient_id=SENTINEL_ID)
    ds.AccessionNumber = SENTINEL_ACCESSION
    ds.save_as(folder / "a.dcm", enforce_file_format=True)
    # the same patient in damaged files: their errors must not quote the header either
    data = (folder / "a.dcm").read_bytes()
    (folder / "b.dcm").write_bytes(data[: len(data) // 2])
    del ds.PixelData  # and a SOP Class UID whose length swallows the name that follows it
    ds.save_as(folder / "c.dcm", enforce_file_format=True)
    data = bytearray((folder / "c.dcm").read_bytes())
    at = data.find(b"\x08\x00\x16\x00UI", 132)
    data[at + 6: at + 8] = (len(data) - at - 8).to_bytes(2, "little")
    (folder / "c.dcm").write_bytes(bytes(data))


def test_no_patient_data_in_logs_or_console(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    make_tiny_model(tmp_path / "models")
    monkeypatch.setenv("VCFVIEWER_MODELS", str(tmp_path / "models"))
    _study(tmp_path / "in")
    from vcfviewer.__main__ import main
    from vcfviewer.batch.task import clear_model_cache

    clear_model_cache()
    caplog.set_level(logging.DEBUG)  # everything any library logs, at every level
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main(["scan", str(tmp_path / "in")]) == 0  # the scan listing shows names: stdout
        capsys.readouterr()
        rc = main(["analyze", str(tmp_path / "in"), "--out", str(tmp_path / "out"),
                   "--workers", "0"])
    assert rc == 1  # the damaged file
    console = capsys.readouterr()
    logged = caplog.text + "\n".join(str(w.message) for w in caught)
    for secret in SECRETS:
        assert secret.lower() not in logged.lower(), f"{secret} logged"
        assert secret.lower() not in console.out.lower() + console.err.lower(), f"{secret} printed"


def test_damaged_header_values_are_withheld_from_logs(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    # A SOP Class UID whose length swallows the rest of the header: pydicom quotes the whole
    # swallowed value, the patient's name included, when it warns that the UID is invalid.
    ds = dx_dataset(film_pixels(32, 32), patient_name=SENTINEL_NAME, patient_id=SENTINEL_ID)
    del ds.PixelData
    path = tmp_path / "in" / "c.dcm"
    path.parent.mkdir()
    ds.save_as(path, enforce_file_format=True)
    data = bytearray(path.read_bytes())
    at = data.find(b"\x08\x00\x16\x00UI", 132)
    data[at + 6: at + 8] = (len(data) - at - 8).to_bytes(2, "little")
    path.write_bytes(bytes(data))
    from vcfviewer.__main__ import main
    from vcfviewer.io.errors import LoadError
    from vcfviewer.io.loader import load_path_sync
    from vcfviewer.privacy import WITHHELD

    assert main(["scan", str(tmp_path / "in"), "--quiet"]) == 0  # the app entry installs it
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings(record=True) as caught:
        with pytest.raises(LoadError):
            load_path_sync(path)  # what the viewer does when the reader opens the file
    logged = caplog.text + "\n".join(str(w.message) for w in caught)
    assert WITHHELD in caplog.text  # pydicom did complain, and its quote was withheld
    for secret in SECRETS:
        assert secret.lower() not in logged.lower(), f"{secret} logged"
