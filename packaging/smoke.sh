#!/usr/bin/env bash
# Smoke test of the built bundle: --version, then a headless analyze of the bundled sample study
# through the local process pool (spawned workers re-enter the frozen executable).
#
#   packaging/smoke.sh [dist/vcfviewer/vcfviewer]
#
# Uses the model bundled in the app; set VCFVIEWER_MODELS to test with another one.
set -euo pipefail
cd "$(dirname "$0")/.."
app="${1:-dist/vcfviewer/vcfviewer}"
[ -x "$app" ] || { echo "smoke.sh: no built app at $app (run packaging/build.sh)" >&2; exit 2; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

version="$("$app" --version)"
echo "version: $version"
[[ "$version" == vcfviewer\ * ]] || { echo "smoke.sh: unexpected --version output" >&2; exit 1; }

start=$(date +%s)
status=0
"$app" analyze --sample --out "$out" --workers 1 --device cpu --json > "$out/result.json" || status=$?
echo "analyze --sample: exit status $status in $(( $(date +%s) - start )) s"
[ "$status" -eq 0 ] || { cat "$out/result.json" >&2; exit 1; }
"$app" models --verify
python3 - "$out" <<'PY'
import csv, json, pathlib, sys
out = pathlib.Path(sys.argv[1])
rows = list(csv.DictReader(open(out / "summary.csv")))
assert len(rows) == 3 and all(r["status"] == "ok" for r in rows), rows
for r in rows:
    files = {p.suffix for p in (out / r["key"]).iterdir()}
    assert {".json", ".csv", ".dcm", ".png"} <= files, (r["key"], files)
print("smoke: 3 sample films analysed:",
      ", ".join(f'{r["key"]} worst grade {r["worst_grade"]} SDI {r["sdi"]}' for r in rows))
PY
echo "smoke: OK"
