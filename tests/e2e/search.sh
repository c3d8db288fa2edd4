. "$KP_SRCDIR/tests/e2e/lib.sh"
finish
