# cem.sh: `kepler search --method cem` (the cross-entropy method,
# search/kp_cem.h) with --checkpoint/--resume: a resumed run equals the
# uninterrupted one bit for bit (whatever the thread counts), a SIGKILLed
# run resumes without losing its best, and corrupt or mismatched
# checkpoints are refused with one line and exit 2. wagner21 has no
# counterexample below 19 vertices, so these runs end at their budget
# (exit 1: nothing verified found) and still write their best object.
. "$KP_SRCDIR/tests/e2e/lib.sh"

cem() { "$KEPLER" search wagner21 --method cem "$@"; }
summary() { sed 's/^  [0-9.]* s, //; s/ ([^)]*\/s)//' "$1" | grep -v certificate; }
gens_of() { sed -n 's/.* \([0-9]*\) generations,.*/\1/p' "$1" | head -n 1; }
best_of() { sed -n 's/^wagner21 n=[0-9]*: best \([^ ,]*\).*/\1/p' "$1" | head -n 1; }

expect_status 1 "uninterrupted" cem --n 9 --seed 5 --rounds 30 --threads 2 \
    --out "$T/u.json"
summary "$T/out" >"$T/u.sum"
grep -q '30 generations' "$T/out" && ok || bad "summary: $(cat "$T/out")"
expect_status 1 "first part" cem --n 9 --seed 5 --rounds 12 --threads 1 \
    --checkpoint "$T/c.ckpt" --quiet
[ -s "$T/c.ckpt" ] && ok || bad "checkpoint written"
expect_status 1 "second part" cem --n 9 --seed 5 --rounds 30 --threads 2 \
    --resume "$T/c.ckpt" --out "$T/r.json"
cmp -s "$T/u.json" "$T/r.json" && ok || bad "resumed run found another object"
summary "$T/out" >"$T/r.sum"
cmp -s "$T/u.sum" "$T/r.sum" && ok || bad "resumed: $(cat "$T/r.sum") vs $(cat "$T/u.sum")"
expect_status 1 "max-evals, first part" cem --n 9 --seed 5 --max-evals 100000 \
    --checkpoint "$T/e.ckpt" --quiet
expect_status 1 "max-evals, resumed" cem --n 9 --seed 5 --max-evals 250000 \
    --resume "$T/e.ckpt" --out "$T/e1.json"
summary "$T/out" >"$T/e1.sum"
expect_status 1 "max-evals, uninterrupted" cem --n 9 --seed 5 --max-evals 250000 \
    --out "$T/e2.json"
summary "$T/out" >"$T/e2.sum"
cmp -s "$T/e1.json" "$T/e2.json" && cmp -s "$T/e1.sum" "$T/e2.sum" && ok ||
    bad "max-evals resume: $(cat "$T/e1.sum") vs $(cat "$T/e2.sum")"

# SIGKILL, then resume.
# Not through cem(): $! must be kepler itself, not a subshell.
"$KEPLER" search wagner21 --method cem --n 16 --seed 3 --time 120 \
    --checkpoint "$T/k.ckpt" --checkpoint-every 0.5 --out "$T/never.json" \
    >/dev/null 2>&1 &
pid=$!
wait_for_file "$T/k.ckpt"
sleep 1.5
kill -KILL $pid
wait $pid 2>/dev/null
[ ! -e "$T/never.json" ] && ok || bad "killed run wrote its certificate"
[ -s "$T/k.ckpt" ] && ok || bad "no checkpoint before SIGKILL"
expect_status 1 "read back" cem --n 16 --seed 3 --rounds 1 --resume "$T/k.ckpt" \
    --out "$T/snap.json"
g0=$(gens_of "$T/out"); b0=$(best_of "$T/out")
[ -n "$g0" ] && [ "$g0" -ge 1 ] && ok || bad "generations in checkpoint: '$g0'"
[ -s "$T/snap.json" ] && ok || bad "the checkpoint's best is written"
expect_status 1 "resume the killed run" cem --n 16 --seed 3 --rounds $((g0 + 3)) \
    --resume "$T/k.ckpt" --checkpoint "$T/k.ckpt" --quiet
expect_status 1 "read back again" cem --n 16 --seed 3 --rounds 1 --resume "$T/k.ckpt"
[ "$(gens_of "$T/out")" = $((g0 + 3)) ] && ok || bad "resumed run: $(cat "$T/out")"
b1=$(best_of "$T/out")
awk -v a="$b1" -v b="$b0" 'BEGIN { exit !(a >= b) }' && ok ||
    bad "best got worse after resume: $b0 -> $b1"

# Refusals: one line naming the file, exit 2.
cp "$T/c.ckpt" "$T/flip.ckpt"
printf 'Z' | dd of="$T/flip.ckpt" bs=1 seek=3000 conv=notrunc 2>/dev/null
expect_status 2 "corrupt" cem --n 9 --seed 5 --rounds 30 --resume "$T/flip.ckpt"
expect_err_line 'flip.ckpt: corrupt checkpoint' "corruption reported"
head -c 100 "$T/c.ckpt" >"$T/short.ckpt"
expect_status 2 "truncated" cem --n 9 --seed 5 --rounds 30 --resume "$T/short.ckpt"
expect_err_line 'short.ckpt: truncated' "truncation reported"
expect_status 2 "other seed" cem --n 9 --seed 6 --rounds 30 --resume "$T/c.ckpt"
expect_err_line 'c.ckpt: .*seed' "seed mismatch reported"
expect_status 2 "other size" cem --n 10 --seed 5 --rounds 30 --resume "$T/c.ckpt"
expect_err_line 'c.ckpt: .*--n 9, this run has --n 10' "size mismatch reported"
expect_status 2 "other problem" "$KEPLER" search ramsey44 --n 9 --method cem \
    --seed 5 --rounds 30 --resume "$T/c.ckpt"
expect_err_line "c.ckpt: .*problem 'wagner21'" "problem mismatch reported"
expect_status 2 "other population" cem --n 9 --seed 5 --rounds 30 --population 32 \
    --resume "$T/c.ckpt"
expect_err_line 'c.ckpt: .*batch 64, this run has 32' "option mismatch named"
expect_status 2 "program checkpoint" cem --n 9 --seed 5 --rounds 30 \
    --resume "$T/c.ckpt" --method local
expect_err_line 'c.ckpt: a checkpoint of kepler search \(method cem\), not of kepler search \(method program or local\)' \
    "method mismatch named"

finish
