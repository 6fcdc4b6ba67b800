#!/usr/bin/env bash
# Debian's headless Chromium, for the test that renders the backtest report and checks the
# screenshot (tests/unit/strategy/test_report_render.py). Nothing is downloaded but the package.
set -euo pipefail

die() { echo "install_chromium: $*" >&2; exit 1; }

command -v chromium >/dev/null && exit 0
command -v apt-get >/dev/null || die "no apt-get: install Chromium by hand (the render test then runs)"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root (or sudo) to install chromium"
    SUDO="sudo"
fi
echo "install_chromium: installing chromium (headless report test)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
