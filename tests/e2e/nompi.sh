# nompi.sh: in a build configured --with-mpi, checks that the sources
# still compile cleanly without MPI (KP_HAVE_MPI undefined), so the build
# that most users make stays buildable while CI runs the MPI one. Every
# other test of the suite runs kepler without mpirun, where MPI is never
# initialised and the drivers take the one-rank path of a build without
# MPI (search/kp_mpi.h). Skipped in a build without MPI: there the build
# itself is this test.
. "$KP_SRCDIR/tests/e2e/lib.sh"

if ! grep -q '^#define KP_HAVE_MPI 1' "$KP_BUILDDIR/config.h" 2>/dev/null; then
    echo "SKIP: this build is already the build without MPI"
    exit 77
fi
cc=$(command -v gcc || command -v cc)
[ -n "$cc" ] || { echo "SKIP: no C compiler besides mpicc"; exit 77; }
grep -v 'KP_HAVE_MPI' "$KP_BUILDDIR/config.h" >"$T/config.h"
flags=$(pkg-config --cflags gmp mpfr sleef gsl jansson libxxhash 2>/dev/null)
files=$(grep -l 'KP_HAVE_MPI' "$KP_SRCDIR"/src/*.c "$KP_SRCDIR"/src/cli/*.c \
    "$KP_SRCDIR"/search/*.c "$KP_SRCDIR"/verify/*.c "$KP_SRCDIR"/problems/*.c)
[ -n "$files" ] && ok || bad "no source file mentions KP_HAVE_MPI"
for f in $files; do
    # config.h is found in $T first: it is not next to the sources.
    if "$cc" -std=gnu11 -fopenmp -Wall -Wextra -Werror -fsyntax-only \
        -I"$T" -I"$KP_SRCDIR/src" -I"$KP_SRCDIR/search" -I"$KP_SRCDIR/verify" \
        -I"$KP_SRCDIR/problems" $flags "$f" 2>"$T/cc.err"; then ok
    else bad "$f does not compile without MPI: $(head -3 "$T/cc.err")"; fi
done
finish
