#!/usr/bin/env bash
# Create the project's virtualenv with Python >= 3.11, installing Debian's venv module if missing.
set -euo pipefail
VENV="${1:-.venv}"
[ -x "$VENV/bin/python" ] && exit 0
PY="$(command -v python3.11 || command -v python3 || true)"
[ -n "$PY" ] || { echo "make_venv: python3 not found; install Python 3.11+" >&2; exit 1; }
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "make_venv: $PY is $("$PY" -V 2>&1); Flowline needs Python 3.11+" >&2; exit 1; }
if ! "$PY" -m venv "$VENV" 2>/dev/null; then
    rm -rf "$VENV"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    ver="$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')"
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "python$ver-venv" >/dev/null
    "$PY" -m venv "$VENV"
fi
