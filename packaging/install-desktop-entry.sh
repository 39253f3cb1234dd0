#!/usr/bin/env bash
# Install this vcfviewer folder for the current user: a `vcfviewer` command in ~/.local/bin,
# the desktop entry and the icon (freedesktop locations). Run it from inside the built folder.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
mkdir -p "$HOME/.local/bin" "$data/applications" "$data/icons/hicolor/scalable/apps"
ln -sf "$here/vcfviewer" "$HOME/.local/bin/vcfviewer"
install -m 644 "$here/vcfviewer.svg" "$data/icons/hicolor/scalable/apps/vcfviewer.svg"
sed "s|^Exec=vcfviewer|Exec=$here/vcfviewer|; s|^TryExec=vcfviewer|TryExec=$here/vcfviewer|" \
    "$here/vcfviewer.desktop" > "$data/applications/vcfviewer.desktop"
command -v update-desktop-database >/dev/null && update-desktop-database "$data/applications" || true
echo "installed: $HOME/.local/bin/vcfviewer and $data/applications/vcfviewer.desktop"
