#!/usr/bin/env bash
# Make pg_auto_failover (Debian's postgresql-$PG_MAJOR-auto-failover: the pgautofailover extension
# and pg_autoctl) available to the machine's PostgreSQL, for bench/failover.py and its test.
# Only from the apt sources the machine already has; no other registry. Root or sudo.
# Fails with one clear message when the packages cannot be installed (no package source).
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
PKGS=("postgresql-$PG_MAJOR-auto-failover" pg-auto-failover-cli)
PG_AUTOCTL="$(command -v pg_autoctl || echo /usr/bin/pg_autoctl)"

die() { echo "install_pgautofailover: $*" >&2; exit 1; }
say() { echo "install_pgautofailover: $*"; }

installed() {
    local p
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || return 1
    done
    [ -x "$PG_AUTOCTL" ] && [ -f "/usr/share/postgresql/$PG_MAJOR/extension/pgautofailover.control" ]
}

if installed; then
    say "pg_auto_failover already installed ($PG_AUTOCTL)"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root (or sudo) to install ${PKGS[*]}"
    SUDO="sudo"
fi
command -v apt-get >/dev/null || die "need Debian/Ubuntu with apt to install ${PKGS[*]}"

# the package lists first: a machine fresh from an image may have none yet
if ! apt-cache show "${PKGS[0]}" >/dev/null 2>&1; then
    $SUDO apt-get update -qq || die "apt-get update failed: no reachable package source"
fi
apt-cache show "${PKGS[@]}" >/dev/null 2>&1 \
    || die "no configured apt source offers ${PKGS[*]} (Debian 12 bookworm has them)"
say "installing ${PKGS[*]}"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${PKGS[@]}" >/dev/null \
    || die "apt-get install ${PKGS[*]} failed"
installed || die "installed, but $PG_AUTOCTL is missing"
say "pg_auto_failover installed ($PG_AUTOCTL)"
