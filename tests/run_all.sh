#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs the whole suite.
# Used as-is by the README and by CI (.ci/run). Safe to re-run: every step skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    echo "== installing Debian's chromium for the browser tests"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

echo "== creating .venv and installing nbtrack with its test dependencies (builds the JupyterLab extension)"
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q ".[test]"

export PATH="$PWD/.venv/bin:$PATH"
echo "== checking the installed extensions"
ext_list=$(jupyter labextension list 2>&1); echo "$ext_list" | grep -i nbtrack || { echo "$ext_list"; exit 1; }
srv_list=$(jupyter server extension list 2>&1); echo "$srv_list" | grep -i nbtrack || { echo "$srv_list"; exit 1; }

echo "== lint, format and types: ruff and pyright on the Python, eslint, prettier and tsc on the sidebar"
ruff check src tests bench docs
ruff format --check src tests bench docs
pyright
bash labextension/check.sh
echo "== running the test suite"
# Two workers; tests/conftest.py says what runs together (a file, all browser tests, the OS-user tests).
# A short base folder: xdist adds popen-gwN/ to each test's tmp_path, and a kernel's IPC socket path under
# it must stay within the 107 bytes Unix allows (/tmp/pytest-of-root/pytest-N/popen-gw0/... did not).
# The folder is removed afterwards: the crash and fault trials alone leave several GB in it.
basetemp=$(mktemp -d /tmp/nbt-XXXXXX)
trap 'rm -rf "$basetemp"' EXIT
python -m pytest -p no:cacheprovider -n 2 --dist loadscope --no-loadscope-reorder --basetemp "$basetemp" "$@"
