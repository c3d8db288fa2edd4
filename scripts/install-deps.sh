#!/bin/sh
# install-deps.sh: installs the Debian 12 packages Kepler builds and tests
# with. Run as root (or through sudo). Safe to run again.
set -e
SUDO=
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends \
    build-essential autoconf automake libtool pkg-config git ca-certificates \
    libgmp-dev libmpfr-dev libflint-dev libflint-arb-dev libsleef-dev \
    libgsl-dev libcsv-dev libjansson-dev libxxhash-dev libcriterion-dev \
    libopenmpi-dev openmpi-bin \
    >/dev/null
# Open MPI is for ./configure --with-mpi (multi-node runs with mpirun);
# scripts/setup.sh configures with it whenever mpicc is installed, so CI
# runs the MPI tests. A plain `kepler` run never starts MPI (kp_mpi.h).
