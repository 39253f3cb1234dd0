"""Synthetic lateral spine radiographs with exact ground truth (training data, sample study, tests).

``simulate(seed, options)`` makes one film in memory; ``write_study`` writes it as a DICOM DX file,
its ground-truth annotation JSON and a label-mask PNG. See SYNTH.md for what is simulated and why.
"""

from vcfviewer.synth.options import SynthError, SynthOptions
from vcfviewer.synth.simulate import SyntheticStudy, simulate

__all__ = ["SynthError", "SynthOptions", "SyntheticStudy", "simulate", "write_study"]


def __getattr__(name: str):  # write_study pulls in pydicom: import it only when asked for
    if name == "write_study":
        from vcfviewer.synth.writer import write_study

        return write_study
    raise AttributeError(name)
