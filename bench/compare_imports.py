"""``import nbtrack`` and ``%load_ext nbtrack`` times of two source trees, side by side.

Usage:  python bench/compare_imports.py OLD_SRC [NEW_SRC]   (e.g. a `git worktree` of an older commit's src/)

Each sample is a fresh interpreter with ``PYTHONPATH`` set to the tree; the median of 15 is printed.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

IMPORT = "import time; s = time.perf_counter(); import nbtrack; print(time.perf_counter() - s)"
LOAD_EXT = (
    "from IPython.core.interactiveshell import InteractiveShell; import time; shell = InteractiveShell.instance(); "
    "s = time.perf_counter(); shell.run_line_magic('load_ext', 'nbtrack'); print(time.perf_counter() - s)"
)


def median_ms(code: str, src: Path, repeat: int = 15) -> float:
    env = dict(os.environ, PYTHONPATH=str(src))
    samples = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(samples) * 1000


def main(argv: list[str]) -> int:
    trees = [Path(p).resolve() for p in argv[1:3]] or []
    if not trees:
        print(__doc__)
        return 2
    if len(trees) == 1:
        trees.append(Path(__file__).resolve().parents[1] / "src")
    for tree in trees:
        print(
            f"{tree}: import nbtrack {median_ms(IMPORT, tree):.1f} ms, "
            f"%load_ext nbtrack {median_ms(LOAD_EXT, tree):.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
