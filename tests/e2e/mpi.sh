# mpi.sh: `mpirun -np 2 kepler fit` and `kepler search` when kepler was
# configured --with-mpi: two ranks run, rank 0 writes one result, runs are
# reproducible (search: 2 ranks x I islands equal 1 process x 2I), and
# checkpointed two-rank runs resume bit-identically. Skipped (exit 77) in
# a build without MPI.
. "$KP_SRCDIR/tests/e2e/lib.sh"

if ! grep -q '^#define KP_HAVE_MPI 1' "$KP_BUILDDIR/config.h" 2>/dev/null; then
    echo "SKIP: kepler was not configured with --with-mpi (./configure --with-mpi)"
    exit 77
fi
if ! command -v mpirun >/dev/null 2>&1; then
    echo "SKIP: built with MPI but mpirun is not installed (apt-get install openmpi-bin)"
    exit 77
fi
# CI runs this as root on a fresh container: allow root, more ranks than
# cores, no process binding, shared memory between the ranks without the
# ptrace-based single-copy path that containers often forbid, and no
# network besides the loopback the runtime itself uses.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
    OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_hwloc_base_binding_policy=none \
    OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none \
    OMPI_MCA_oob_tcp_if_include=lo
# Open MPI's own allocations are not leaks of ours.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
mpi2() { mpirun -np 2 "$KEPLER" "$@"; }

awk 'BEGIN { print "a,b,out"; for (i = 1; i <= 60; i++) {
    a = i / 10; b = (i * 7 % 13) / 5
    printf "%.2f,%.2f,%.6f\n", a, b, a * b + sin(a) + 0.001 * ((i * 37) % 11) } }' >"$T/d.csv"
small="--islands 2 --population 48 --seed 5 --threads 1 --quiet"
strip() { grep -v -E '"seconds"|_per_second"' "$1"; }
evals() { sed -n 's/.*"evaluations": \([0-9]*\).*/\1/p' "$1" | head -n 1; }

expect_status 0 "one process" "$KEPLER" fit "$T/d.csv" $small --rounds 4 \
    --json "$T/one.json"
expect_status 0 "two ranks" mpi2 fit "$T/d.csv" $small --rounds 4 \
    --json "$T/two.json"
grep -q '"rounds": 4' "$T/two.json" && ok || bad "two-rank JSON written"
# One rank under mpirun is the single-process run.
expect_status 0 "one rank under mpirun" mpirun -np 1 "$KEPLER" fit "$T/d.csv" \
    $small --rounds 4 --json "$T/one-mpi.json"
strip "$T/one.json" >"$T/o1.cmp"
strip "$T/one-mpi.json" >"$T/o2.cmp"
cmp -s "$T/o1.cmp" "$T/o2.cmp" && ok || bad "mpirun -np 1 differs from a plain run"
e1=$(evals "$T/one.json"); e2=$(evals "$T/two.json")
# Evaluations are summed over ranks: two ranks do about twice the work.
[ "$e2" -gt $((e1 * 3 / 2)) ] && ok || bad "evaluations: 1 rank $e1, 2 ranks $e2"
expect_status 0 "two ranks again" mpi2 fit "$T/d.csv" $small --rounds 4 \
    --threads 2 --json "$T/two-again.json"
strip "$T/two.json" >"$T/a.cmp"
strip "$T/two-again.json" >"$T/b.cmp"
cmp -s "$T/a.cmp" "$T/b.cmp" && ok || bad "two-rank runs differ"

# Checkpoints are per rank; a resumed two-rank run equals the uninterrupted.
expect_status 0 "two ranks, first half" mpi2 fit "$T/d.csv" $small \
    --rounds 2 --checkpoint "$T/ck"
[ -s "$T/ck.rank0" ] && [ -s "$T/ck.rank1" ] && ok || bad "rank checkpoints: $(ls "$T")"
expect_status 0 "two ranks, resumed" mpi2 fit "$T/d.csv" $small \
    --rounds 4 --resume "$T/ck" --json "$T/resumed.json"
strip "$T/resumed.json" >"$T/c.cmp"
cmp -s "$T/a.cmp" "$T/c.cmp" && ok || bad "resumed two-rank run differs"
# A rank checkpoint cannot be resumed by a run with another rank count.
expect_status 2 "one process, rank checkpoint" "$KEPLER" fit "$T/d.csv" \
    $small --rounds 4 --resume "$T/ck.rank1"
expect_err_line 'rank 1 of 2' "rank mismatch reported"
# Random topology: reproducible with two ranks.
expect_status 0 "two ranks, random" mpi2 fit "$T/d.csv" $small --rounds 4 \
    --topology random --json "$T/rnd1.json"
expect_status 0 "two ranks, random again" mpi2 fit "$T/d.csv" $small \
    --rounds 4 --topology random --json "$T/rnd2.json"
strip "$T/rnd1.json" >"$T/r1.cmp"
strip "$T/rnd2.json" >"$T/r2.cmp"
cmp -s "$T/r1.cmp" "$T/r2.cmp" && ok || bad "two-rank random-topology runs differ"

# ---- kepler search ----
# Islands are numbered over the ranks: 2 ranks x 3 islands run exactly the
# islands of one process with 6, for either topology.
summary() { grep -E 'best|objects' "$1" | sed 's/^  [0-9.]* s, //; s/ (.*\/s)//'; }
for topo in ring random; do
    cs="capset --n 6 --seed 7 --rounds 6 --topology $topo --quiet"
    expect_status 0 "search, one process, $topo" "$KEPLER" search $cs \
        --islands 6 --threads 2 --out "$T/s1-$topo.json"
    expect_status 0 "search, two ranks, $topo" mpi2 search $cs --islands 3 \
        --threads 1 --out "$T/s2-$topo.json"
    cmp -s "$T/s1-$topo.json" "$T/s2-$topo.json" && ok ||
        bad "search: 2 ranks x 3 islands differ from 1 x 6 ($topo)"
    expect_status 0 "two-rank certificate verifies" "$KEPLER" verify "$T/s2-$topo.json"
done
expect_status 0 "search, one rank under mpirun" mpirun -np 1 "$KEPLER" search \
    capset --n 6 --seed 7 --rounds 6 --quiet --islands 6 --out "$T/s1-mpi1.json"
cmp -s "$T/s1-ring.json" "$T/s1-mpi1.json" && ok || bad "search: mpirun -np 1 differs"
cs="capset --n 6 --seed 7 --rounds 6 --islands 3"
expect_status 0 "search summary, one process" "$KEPLER" search $cs --islands 6
summary "$T/out" >"$T/sum1"
expect_status 0 "search summary, two ranks" mpi2 search $cs
summary "$T/out" >"$T/sum2"
cmp -s "$T/sum1" "$T/sum2" && ok || bad "summaries differ: $(cat "$T/sum1") / $(cat "$T/sum2")"
[ "$(grep -c '^capset n=6' "$T/out")" = 1 ] && ok || bad "rank 0 alone prints: $(cat "$T/out")"
grep -q 'kepler search: 2 ranks, rank 0 sent [1-9][0-9]* migration bytes' "$T/err" &&
    ok || bad "migration traffic reported: $(cat "$T/err")"
# A target met on one rank stops every rank (else mpirun would hang).
expect_status 0 "two ranks, target" mpi2 search capset --n 4 --target 20 \
    --seed 3 --threads 1 --quiet --out "$T/t.json"
grep -q '"size": 20' "$T/t.json" && ok || bad "target certificate"

# Two-rank search checkpoints resume bit-identically, also when the ranks
# were killed between their writes (one rank's file a checkpoint behind).
cs="capset --n 6 --seed 7 --islands 3 --topology random --quiet"
expect_status 0 "search, two ranks, uninterrupted" mpi2 search $cs --rounds 9 \
    --out "$T/su.json"
expect_status 0 "search, two ranks, first part" mpi2 search $cs --rounds 3 \
    --checkpoint "$T/sck"
expect_status 0 "search, two ranks, second part" mpi2 search $cs --rounds 6 \
    --resume "$T/sck" --checkpoint "$T/sck"
[ -s "$T/sck.rank0.prev" ] && [ -s "$T/sck.rank1.prev" ] && ok ||
    bad "previous rank checkpoints kept: $(ls "$T")"
expect_status 0 "search, two ranks, resumed" mpi2 search $cs --rounds 9 \
    --resume "$T/sck" --out "$T/sr.json"
cmp -s "$T/su.json" "$T/sr.json" && ok || bad "resumed two-rank search differs"
cp "$T/sck.rank1.prev" "$T/sck.rank1"
expect_status 0 "search, ranks a checkpoint apart" mpi2 search $cs --rounds 9 \
    --resume "$T/sck" --out "$T/sr2.json"
cmp -s "$T/su.json" "$T/sr2.json" && ok || bad "fallback to .prev differs"
echo junk >"$T/sck.rank1"
echo junk >"$T/sck.rank1.prev"
expect_status 2 "search, a rank's checkpoint broken" mpi2 search $cs --rounds 9 \
    --resume "$T/sck"
grep -q 'sck.rank1: not a Kepler search checkpoint' "$T/err" && ok ||
    bad "rank 0 reports rank 1's error: $(head -c 300 "$T/err")"

# ---- kepler search --method cem ----
# Each rank runs its own population; super sets migrate every generation.
cem="wagner21 --method cem --n 9 --seed 5 --rounds 20"
csum() { sed 's/^  [0-9.]* s, //; s/ ([^)]*\/s)//' "$1" | grep -v certificate; }
for topo in ring random; do
    expect_status 1 "cem, two ranks, $topo" mpi2 search $cem --topology $topo \
        --threads 1 --out "$T/cem-$topo.json"
    csum "$T/out" >"$T/cem-$topo.sum"
    [ "$(grep -c '^wagner21 n=9' "$T/out")" = 1 ] && ok ||
        bad "cem: rank 0 alone reports: $(cat "$T/out")"
    grep -q 'kepler search: 2 ranks, rank 0 sent [1-9][0-9]* migration bytes' \
        "$T/err" && ok || bad "cem migration traffic: $(head -c 300 "$T/err")"
    expect_status 1 "cem, two ranks, $topo, two threads" mpi2 search $cem \
        --topology $topo --threads 2 --out "$T/cem2-$topo.json"
    csum "$T/out" >"$T/cem2.sum"
    cmp -s "$T/cem-$topo.json" "$T/cem2-$topo.json" &&
        cmp -s "$T/cem-$topo.sum" "$T/cem2.sum" && ok ||
        bad "cem two-rank runs differ ($topo)"
done
expect_status 1 "cem, two ranks, first part" mpi2 search $cem --topology random \
    --rounds 8 --checkpoint "$T/cck" --quiet
[ -s "$T/cck.rank0" ] && [ -s "$T/cck.rank1" ] && ok || bad "cem rank checkpoints"
expect_status 1 "cem, two ranks, resumed" mpi2 search $cem --topology random \
    --resume "$T/cck" --out "$T/cem-r.json"
csum "$T/out" >"$T/cem-r.sum"
cmp -s "$T/cem-random.json" "$T/cem-r.json" && cmp -s "$T/cem-random.sum" "$T/cem-r.sum" &&
    ok || bad "resumed two-rank cem differs: $(cat "$T/cem-r.sum")"
# The first verified counterexample, on either rank, stops both.
expect_status 0 "cem, two ranks, wagner21 n=19" mpi2 search wagner21 --n 19 \
    --seed 1 --threads 1 --time 120 --out "$T/w19.json"
expect_status 0 "its certificate verifies" "$KEPLER" verify "$T/w19.json"

finish
