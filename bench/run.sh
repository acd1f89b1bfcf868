#!/usr/bin/env bash
# Reproduce docs/benchmarks.md: a fresh .venv-bench with nbtrack (editable) and the peers it is
# compared with (MLflow, DVC), then every benchmark module. Arguments go to bench/run.py
# (e.g. `bench/run.sh --only core --quick`). The peers live only in this venv, never in nbtrack's deps.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-bench/bin/python ]; then
    python3 -m venv .venv-bench
fi
# The JupyterLab sidebar build (node) is not needed to benchmark the Python package.
# pytest and hypothesis: the reliability module replays the suite's generated-input tests at bench size.
HATCH_BUILD_NO_HOOKS=true .venv-bench/bin/python -m pip install --quiet -e . mlflow dvc pytest hypothesis
export NBTRACK_BENCH_COMMAND="bench/run.sh${*:+ $*}"
exec .venv-bench/bin/python bench/run.py "$@"
