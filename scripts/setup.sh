#!/bin/sh
# setup.sh: installs the Debian packages, then configures and builds Kepler in
# the source tree. Extra arguments go to ./configure (e.g. --enable-sanitizers).
# When Open MPI's mpicc is installed it configures --with-mpi (unless the
# arguments say --with-mpi=... or --without-mpi): `mpirun -np K kepler ...`
# then spreads the search over K processes, and the MPI tests run.
set -e
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -x configure ] || autoreconf -fi >/dev/null
mpi=
if command -v mpicc >/dev/null 2>&1; then
    case " $* " in
    *" --with-mpi"* | *" --without-mpi"*) ;;
    *) mpi=--with-mpi ;;
    esac
fi
[ -f Makefile ] || ./configure -q $mpi "$@"
make -j"$(nproc)" >/dev/null
