# cem.sh: checkpoints of the cross-entropy method (search/kp_cem.h) through
# tests/scale/cem-run: a resumed run equals the uninterrupted one bit for
# bit (whatever the thread counts), a SIGKILLed run resumes without losing
# its best, and corrupt or mismatched checkpoints are refused.
. "$KP_SRCDIR/tests/e2e/lib.sh"
CEM="$KP_BUILDDIR/tests/scale/cem-run"

expect_status 0 "uninterrupted" "$CEM" wagner21 9 5 30 --threads 2
cp "$T/out" "$T/u.out"
grep -q '^best .* gens 30 ' "$T/u.out" && ok || bad "one line: $(cat "$T/u.out")"
expect_status 0 "first part" "$CEM" wagner21 9 5 12 --checkpoint "$T/c.ckpt"
[ -s "$T/c.ckpt" ] && ok || bad "checkpoint written"
expect_status 0 "second part" "$CEM" wagner21 9 5 30 --threads 2 --resume "$T/c.ckpt"
cmp -s "$T/u.out" "$T/out" && ok || bad "resumed: $(cat "$T/out") vs $(cat "$T/u.out")"
expect_status 0 "one thread" "$CEM" wagner21 9 5 30 --threads 1
cmp -s "$T/u.out" "$T/out" && ok || bad "thread count changed the run"

# SIGKILL, then resume.
"$CEM" wagner21 16 3 100000000 --seconds 120 --checkpoint "$T/k.ckpt" >/dev/null 2>&1 &
pid=$!
for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    sleep 0.25
    [ -s "$T/k.ckpt" ] && break
done
sleep 1.5
kill -KILL $pid
wait $pid 2>/dev/null
[ -s "$T/k.ckpt" ] && ok || bad "no checkpoint before SIGKILL"
expect_status 0 "read back" "$CEM" wagner21 16 3 1 --resume "$T/k.ckpt"
g0=$(sed -n 's/.* gens \([0-9]*\) .*/\1/p' "$T/out")
b0=$(sed -n 's/^best \([^ ]*\) .*/\1/p' "$T/out")
[ -n "$g0" ] && [ "$g0" -ge 1 ] && ok || bad "generations in checkpoint: '$g0'"
expect_status 0 "resume the killed run" "$CEM" wagner21 16 3 $((g0 + 5)) \
    --resume "$T/k.ckpt" --checkpoint "$T/k.ckpt"
[ "$(sed -n 's/.* gens \([0-9]*\) .*/\1/p' "$T/out")" = $((g0 + 5)) ] && ok ||
    bad "resumed run: $(cat "$T/out")"
b1=$(sed -n 's/^best \([^ ]*\) .*/\1/p' "$T/out")
awk -v a="$b1" -v b="$b0" 'BEGIN { exit !(a >= b) }' && ok ||
    bad "best got worse after resume: $b0 -> $b1"

# Refusals.
cp "$T/c.ckpt" "$T/flip.ckpt"
printf 'Z' | dd of="$T/flip.ckpt" bs=1 seek=3000 conv=notrunc 2>/dev/null
expect_status 2 "corrupt" "$CEM" wagner21 9 5 30 --resume "$T/flip.ckpt"
expect_err_line 'flip.ckpt: corrupt checkpoint' "corruption reported"
head -c 100 "$T/c.ckpt" >"$T/short.ckpt"
expect_status 2 "truncated" "$CEM" wagner21 9 5 30 --resume "$T/short.ckpt"
expect_err_line 'short.ckpt: truncated' "truncation reported"
expect_status 2 "other seed" "$CEM" wagner21 9 6 30 --resume "$T/c.ckpt"
expect_err_line 'c.ckpt: .*seed' "seed mismatch reported"
expect_status 2 "other size" "$CEM" wagner21 10 5 30 --resume "$T/c.ckpt"
expect_err_line 'c.ckpt: .*--n 9, this run has --n 10' "size mismatch reported"
expect_status 2 "other problem" "$CEM" ramsey44 9 5 30 --resume "$T/c.ckpt"
expect_err_line "c.ckpt: .*problem 'wagner21'" "problem mismatch reported"
expect_status 2 "other topology" "$CEM" wagner21 9 5 30 --topology random --resume "$T/c.ckpt"
expect_err_line 'c.ckpt: .*topology' "topology mismatch reported"
printf 'x,y\n1,2\n' >"$T/d.csv"
"$KEPLER" fit "$T/d.csv" --rounds 1 --checkpoint "$T/fit.ckpt" --quiet >/dev/null 2>&1
expect_status 2 "fit checkpoint" "$CEM" wagner21 9 5 30 --resume "$T/fit.ckpt"
expect_err_line 'fit.ckpt: a checkpoint of kepler fit, not of kepler search \(method cem\)' "foreign checkpoint named"

finish
