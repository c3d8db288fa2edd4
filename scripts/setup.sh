#!/bin/sh
# setup.sh: installs the Debian packages, then configures and builds Kepler in
# the source tree. Extra arguments go to ./configure (e.g. --enable-sanitizers).
set -e
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -x configure ] || autoreconf -fi >/dev/null
[ -f Makefile ] || ./configure -q "$@"
make -j"$(nproc)" >/dev/null
