#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/browser, marker `browser`). Playwright drives it through
# executable_path=/usr/bin/chromium: the Python `playwright` package (dev extra) carries its own driver, and
# `playwright install` is never run (it downloads browsers). Exits non-zero when Chromium cannot be had;
# the browser tests then skip with that reason.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if [ -x /usr/bin/chromium ]; then
  /usr/bin/chromium --version 2>/dev/null
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "browser.sh: need root or sudo to apt-get install chromium" >&2; exit 1; }
  SUDO="sudo -n"
fi
$SUDO apt-get update -qq
# fonts-dejavu-core: readable text in screenshots even where Chromium's recommended fonts are left out.
$SUDO apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
/usr/bin/chromium --version 2>/dev/null
