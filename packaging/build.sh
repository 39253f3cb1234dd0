#!/usr/bin/env bash
# Build the standalone application folder dist/vcfviewer/ (PyInstaller, one folder).
#
#   packaging/build.sh                # uses .venv/bin/python; PYTHON=... to use another
#
# Needs `pip install pyinstaller` in that environment. Bundles resources/ and models/ as they
# are now: build after the shipped model is in models/ (without one, the app needs
# VCFVIEWER_MODELS). Outputs go to build/ and dist/ (git-ignored). Then run packaging/smoke.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
if ! "$PY" -m PyInstaller --version >/dev/null 2>&1; then
    echo "build.sh: PyInstaller is missing: $PY -m pip install pyinstaller" >&2
    exit 2
fi
if ! ls models/*.safetensors >/dev/null 2>&1; then
    echo "build.sh: warning: models/ holds no weights; the bundle will need VCFVIEWER_MODELS" >&2
fi
start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist \
    --workpath build/pyinstaller packaging/vcfviewer.spec
install -m 644 packaging/vcfviewer.desktop dist/vcfviewer/vcfviewer.desktop
install -m 644 resources/icons/vcfviewer.svg dist/vcfviewer/vcfviewer.svg
install -m 755 packaging/install-desktop-entry.sh dist/vcfviewer/install-desktop-entry.sh
echo "built dist/vcfviewer in $(( $(date +%s) - start )) s; size $(du -sh dist/vcfviewer | cut -f1)"
