# lib.sh: helpers for end-to-end tests of the kepler binary. Sourced by each
# tests/e2e/*.sh; KEPLER, KP_SRCDIR and KP_BUILDDIR come from the build.
set -u
: "${KEPLER:?run through make check}"
T=$(mktemp -d "${TMPDIR:-/tmp}/kepler-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# run CMD...: runs it, keeping stdout in $T/out, stderr in $T/err, status in $rc.
run() {
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
}

# expect_status N DESCRIPTION CMD...
expect_status() {
    want=$1; what=$2; shift 2
    run "$@"
    if [ "$rc" = "$want" ]; then ok; else
        bad "$what: exit $rc, wanted $want"; sed 's/^/  stderr: /' "$T/err" | head -5; fi
}

# expect_out TEXT DESCRIPTION: stdout of the last run equals TEXT.
expect_out() {
    if [ "$(cat "$T/out")" = "$1" ]; then ok; else
        bad "$2: stdout '$(head -c 300 "$T/out")', wanted '$1'"; fi
}

# expect_err_match REGEX DESCRIPTION: stderr of the last run matches, and is
# exactly one line.
expect_err_line() {
    if grep -Eq -- "$1" "$T/err" && [ "$(wc -l <"$T/err")" -eq 1 ]; then ok; else
        bad "$2: stderr '$(head -c 300 "$T/err")' does not match /$1/ on one line"; fi
}

# wait_for_file FILE: waits until FILE exists and is not empty (at most
# 300 s: a slow or loaded machine, or a sanitizer build, only makes it
# take longer, never fail).
wait_for_file() {
    i=0
    while [ ! -s "$1" ] && [ "$i" -lt 1200 ]; do
        sleep 0.25
        i=$((i + 1))
    done
}

finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
