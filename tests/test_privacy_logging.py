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
    # the same patient in a damaged file: its error must not quote the header either
    data = (folder / "a.dcm").read_bytes()
    (folder / "b.dcm").write_bytes(data[: len(data) // 2])


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
