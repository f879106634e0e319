#!/usr/bin/env bash
# docs/cli.md is what `make docs` writes from the commands' --help texts: a
# change to a flag that was not followed by `make docs` fails here.
set -u
source "$(dirname "$0")/lib.sh"
DOC="$OLDPWD/docs/cli.md"
[ -f "$DOC" ] || DOC="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/docs/cli.md"
M help --markdown >cli.md || fail "mtp help --markdown"
diff -u "$DOC" cli.md >diff.txt || fail "docs/cli.md is out of date: run make docs ($(head -c 600 diff.txt))"
# every command's help is in it, and every help exits 0
# the names are the first 18 columns after the indent of `mtp --help`'s command list
for c in $(M --help | sed -n '/^commands:/,$p' | tail -n +2 | cut -c3-20 | sed 's/ *$//' | tr ' ' '_'); do
    cmd=${c//_/ }
    grep -q "^## mtp $cmd\$" cli.md || fail "no section for mtp $cmd"
    # shellcheck disable=SC2086
    M $cmd --help >/dev/null || fail "mtp $cmd --help exits $?"
    # shellcheck disable=SC2086
    [ "$(M help $cmd)" = "$(M $cmd --help)" ] || fail "mtp help $cmd is not mtp $cmd --help"
done
# what cannot reach stdout (a full disk) is an error, not a success
if [ -w /dev/full ] && [ -c /dev/full ]; then
    M help generate >/dev/full 2>err.txt
    rc=$?
    [ $rc -eq 1 ] && grep -q "cannot write standard output" err.txt || fail "help to /dev/full: rc $rc, $(cat err.txt)"
    M tokenizer encode --tokenizer bytes --text hello >/dev/full 2>err.txt
    rc=$?
    [ $rc -eq 1 ] && grep -q "cannot write standard output" err.txt || fail "encode to /dev/full: rc $rc, $(cat err.txt)"
fi
finish docs
