#!/usr/bin/env bash
# Make the timescaledb extension available to the machine's PostgreSQL 15, with no Docker.
#
# Order of preference:
#   1. already installed (timescaledb.control in PostgreSQL's extension dir) -> nothing to do
#   2. a packaged binary the machine's apt sources already offer -> apt-get install it
#   3. build Debian's next-release source package (Apache-licensed part only) against PG 15,
#      fetched from the same mirror the machine already uses (derived from its apt sources;
#      no registry address is written in this repository).
# Fails with one clear message on systems it cannot handle.
set -euo pipefail

PG_MAJOR="${PG_MAJOR:-15}"
SRC_SUITE="${TIMESCALEDB_SRC_SUITE:-trixie}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD_DIR="$ROOT/var/build/timescaledb"
SRC_LIST=/etc/apt/sources.list.d/flowline-timescaledb-src.sources

die() { echo "install_timescaledb: $*" >&2; exit 1; }
say() { echo "install_timescaledb: $*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "need root (or sudo) to install system packages"
    SUDO="sudo"
fi

[ -r /etc/os-release ] || die "cannot read /etc/os-release; only Debian/Ubuntu are supported"
. /etc/os-release
case " ${ID:-} ${ID_LIKE:-} " in
    *" debian "*|*" ubuntu "*) ;;
    *) die "unsupported system '${PRETTY_NAME:-unknown}': need Debian/Ubuntu with apt, or set DATABASE_URL to an existing TimescaleDB (or use docker-compose.yml)";;
esac

apt_updated=0
apt_update() {
    if [ "$apt_updated" -eq 0 ]; then
        $SUDO apt-get update -qq
        apt_updated=1
    fi
}

ensure_packages() {  # install the named packages unless all are present already
    local missing=()
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        say "installing ${missing[*]}"
        apt_update
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

ensure_packages "postgresql-$PG_MAJOR" "postgresql-client-$PG_MAJOR"
PG_CONFIG="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
[ -x "$PG_CONFIG" ] || die "PostgreSQL $PG_MAJOR's pg_config not found at $PG_CONFIG"
EXT_DIR="$("$PG_CONFIG" --sharedir)/extension"

if [ -f "$EXT_DIR/timescaledb.control" ]; then
    say "timescaledb already installed for PostgreSQL $PG_MAJOR ($EXT_DIR)"
    exit 0
fi

# 2. a packaged build, if any configured apt source offers one
apt_update
for pkg in "timescaledb-2-postgresql-$PG_MAJOR" "postgresql-$PG_MAJOR-timescaledb"; do
    if apt-cache show "$pkg" >/dev/null 2>&1; then
        say "installing packaged $pkg"
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$pkg" >/dev/null
        [ -f "$EXT_DIR/timescaledb.control" ] && exit 0
    fi
done

# 3. build Debian's source package. The mirror is the one the machine already uses for Debian.
mirror_from_sources() {
    local candidates
    candidates="$(
        # deb822 files (URIs: lines) and one-line files ("deb [opts] URI suite ...")
        cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ {for (i = 2; i <= NF; i++) print $i}'
        cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
            | awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) {print $i; break}}'
    )" || true
    printf '%s\n' "$candidates" | grep -v -E 'security|updates|backports' | grep -m 1 -E '/debian/?$' || true
}

if [ "${ID:-}" != "debian" ]; then
    die "no packaged TimescaleDB for $PRETTY_NAME and the source build is only supported on Debian; install TimescaleDB's own package for PostgreSQL $PG_MAJOR, or set DATABASE_URL"
fi
MIRROR="$(mirror_from_sources)"
[ -n "$MIRROR" ] || die "could not find a Debian mirror in /etc/apt/sources*; add one or set DATABASE_URL"

if [ ! -f "$SRC_LIST" ]; then
    say "adding a deb-src-only entry for $SRC_SUITE from $MIRROR (binaries keep coming from ${VERSION_CODENAME:-this release})"
    printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$MIRROR" "$SRC_SUITE" | $SUDO tee "$SRC_LIST" >/dev/null
    apt_updated=0
    apt_update
fi

ensure_packages "postgresql-server-dev-$PG_MAJOR" cmake gcc make dpkg-dev libssl-dev libkrb5-dev

rm -rf "$BUILD_DIR"
mkdir -p "$BUILD_DIR"
cd "$BUILD_DIR"
say "fetching the timescaledb source package from $SRC_SUITE"
apt-get source -qq --download-only "timescaledb/$SRC_SUITE" >/dev/null 2>&1 \
    || apt-get source -qq --download-only timescaledb >/dev/null \
    || die "apt-get source timescaledb failed (is the $SRC_SUITE deb-src entry reachable?)"
dpkg-source -x --no-check ./*.dsc src >/dev/null
cd src
say "building $(basename "$(ls -d ../*.dsc)" .dsc) against PostgreSQL $PG_MAJOR (Apache-only)"
./bootstrap -DPG_CONFIG="$PG_CONFIG" -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF \
    -DSEND_TELEMETRY_DEFAULT=OFF -DWARNINGS_AS_ERRORS=OFF >build.log 2>&1 \
    || { tail -20 build.log >&2; die "cmake configure failed (log: $BUILD_DIR/src/build.log)"; }
make -C build -j"$(nproc)" >>build.log 2>&1 || { tail -30 build.log >&2; die "build failed (log: $BUILD_DIR/src/build.log)"; }
$SUDO make -C build install >>build.log 2>&1 || die "install failed (log: $BUILD_DIR/src/build.log)"
[ -f "$EXT_DIR/timescaledb.control" ] || die "build finished but $EXT_DIR/timescaledb.control is missing"
say "timescaledb installed for PostgreSQL $PG_MAJOR"
