#!/usr/bin/env bash
# The sidebar's static checks: strict types (tsc), lint (eslint) and formatting (prettier).
# tests/run_all.sh runs it before the test suite; run it by hand with `bash labextension/check.sh`.
# Every check runs, and the script exits non-zero if any of them failed.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v jlpm >/dev/null 2>&1 && [ -x ../.venv/bin/jlpm ]; then
    PATH="$PWD/../.venv/bin:$PATH"  # jlpm ships with jupyterlab, in the project's venv
fi
if [ ! -d node_modules ]; then
    jlpm install
fi

failed=()
run() {
    echo "== labextension: $*"
    "$@" || failed+=("$*")
}
run jlpm tsc --noEmit
run jlpm eslint src
run jlpm prettier --check src style

if [ "${#failed[@]}" -gt 0 ]; then
    printf 'labextension check failed: %s\n' "${failed[@]}" >&2
    echo "fix with: cd labextension && jlpm lint (eslint --fix, prettier --write), then fix what tsc/eslint still report" >&2
    exit 1
fi
echo "== labextension: types, lint and formatting OK"
