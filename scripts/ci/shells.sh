#!/usr/bin/env bash
# Installs zsh, which the completion test runs the generated zsh script in (bash is already there).
set -euo pipefail
if command -v zsh >/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  apt-get install -y --no-install-recommends zsh >/dev/null ||
    { apt-get update >/dev/null && apt-get install -y --no-install-recommends zsh >/dev/null; }
fi
