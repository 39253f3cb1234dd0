"""``vcfviewer synth OUT --ct``: CT volumes with their truth, spacing varied by seed."""

from __future__ import annotations

from pathlib import Path

import pytest

from vcfviewer.__main__ import main
from vcfviewer.synth import ct_writer


def test_spacing_varies_with_the_seed() -> None:
    drawn = {ct_writer.spacing_for(seed) for seed in range(30)}
    assert len({p for p, _ in drawn}) > 2 and len({s for _, s in drawn}) > 2
    assert ct_writer.spacing_for(3) == ct_writer.spacing_for(3)


@pytest.mark.parametrize("nifti", [False, True], ids=["dicom", "nifti"])
def test_synth_ct_writes_volumes_and_truth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str], nifti: bool) -> None:
    from vcfviewer.io.annotation_json import read_annotation

    # coarse spacing keeps the test quick; the CLI's own choice is tested above
    monkeypatch.setattr(ct_writer, "spacing_for", lambda seed: (1.0, 5.0))
    out = tmp_path / "out"
    args = ["synth", str(out), "--ct", "--count", "1", "--seed", "12", "--quiet"]
    assert main(args + (["--nifti"] if nifti else [])) == 0
    name = ct_writer.default_ct_name(12)
    image = out / (f"{name}.nii.gz" if nifti else name)
    assert image.is_file() if nifti else len(list(image.glob("*.dcm"))) > 10
    truth = read_annotation(out / "truth" / f"{name}.json")
    assert truth.image.plane_count and truth.image.path == image.name
    assert all(f.plane_index is not None for f in truth.findings)
    assert "wrote 1 CT volumes" in capsys.readouterr().out
