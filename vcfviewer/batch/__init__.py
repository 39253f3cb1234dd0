"""Headless batch analysis: the same load → analyse → measure → export pipeline as the viewer,
run over every radiograph found under a folder, by a local process pool or a Dask cluster.

* ``task``: ``StudyTask`` / ``StudyResult`` and ``analyze_one(task)``, the pure picklable
  per-study function (its process keeps the model warm);
* ``plan``: scan results → tasks with stable output-folder names, resume from ``done.json``;
* ``runners``: in-process, ``concurrent.futures`` process pool, ``dask.distributed``;
* ``summary``: progress line, ``summary.csv``, ``errors.csv``, printed table;
* ``deidentify``: de-identified copies of source headers for ``--deidentify`` exports.

No torch at import time: torch is only imported inside the worker (through vcfviewer.models).
"""
