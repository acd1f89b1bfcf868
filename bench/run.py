"""Run nbtrack's benchmarks side by side with their peers and write docs/benchmarks.md.

Usage:  python bench/run.py [--only core,magic,data,production] [--quick] [--rows N] [--no-write]

Each module ``bench/bench_<key>.py`` exposes ``bench_<key>(...) -> list[dict]`` with keys
``name, nbtrack_s, peer, peer_s, ratio, target, ok`` (and optionally ``note``). A module that does not
exist yet is reported as "not run". docs/benchmarks.md keeps its hand-written introduction (everything
before the first ``<!-- bench:`` marker) and the sections of modules that did not run this time; the
sections of modules that ran, and the machine section, are rewritten.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import inspect
import math
import os
import platform
import re
import shlex
import sqlite3
import sys
import time
import traceback
from importlib import metadata
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DOC = REPO / "docs" / "benchmarks.md"
MODULES = {
    "core": ("bench_core", "Core: logging, import, reading runs (bench/bench_core.py)"),
    "magic": ("bench_magic", "The %%track magic (bench/bench_magic.py)"),
    "data": ("bench_data", "DataFrame versions (bench/bench_data.py)"),
    "production": ("bench_production", "Production: notebook runs, sweeps (bench/bench_production.py)"),
    "sidebar": ("bench_sidebar", "JupyterLab sidebar with 100,000 runs, in Chromium (bench/bench_sidebar.py)"),
    "reliability": (
        "bench_reliability",
        "Reliability at bench size: load, SIGKILLs, generated input (bench/bench_reliability.py)",
    ),
}
PACKAGES = ("nbtrack", "mlflow", "dvc", "pandas", "pyarrow", "numpy", "sqlite-utils", "papermill")
DATA_ROWS, QUICK_DATA_ROWS = 10_000_000, 1_000_000
INTRO = """# Benchmarks

What is measured: the cost of recording a run, of `import nbtrack`, of reading many runs back and of
the query language (core); what `%%track` adds to a cell (magic); DataFrame snapshots against Parquet
and `dvc add` (data); notebook runs and sweeps (production). Each figure is set beside the tool people
would otherwise use (MLflow, Parquet, DVC), measured in the same process on the same machine, and
against the target written in the project's foundation issue. Targets are never adjusted to fit.

How to reproduce: `bench/run.sh` (creates `.venv-bench/` with nbtrack, MLflow and DVC, then runs
`python bench/run.py`). `--only core` (or magic, data, production; comma-separated) runs some modules
and rewrites only their sections below; `--quick` uses smaller sizes (faster, not the recorded figures).

How to read it: every time is a median of repeated measurements; the machine is shared with other work,
so the load average is recorded with each section, and small differences (a few per cent) are noise.
"ratio" is nbtrack's figure divided by the peer's (below 1: nbtrack is faster), except where a row says
otherwise (e.g. bytes stored as a fraction of the first version).
"""


# -- machine ----------------------------------------------------------------------------------------


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        ram = f"{mem_kb / 1024**2:.1f} GiB"
    except (OSError, AttributeError):
        ram = "unknown"
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    versions["sqlite"] = sqlite3.sqlite_version
    executable = Path(sys.executable)
    if executable.is_relative_to(REPO):
        executable = executable.relative_to(REPO)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram": ram,
        "python": platform.python_version(),
        "executable": str(executable),
        "os": platform.platform(),
        "versions": versions,
    }


def _load() -> str:
    try:
        return "/".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


# -- running --------------------------------------------------------------------------------------


def run_module(key: str, quick: bool, rows: int) -> dict:
    """Import and run one benchmark module; never raises (a failure becomes part of the result)."""
    module_name, _ = MODULES[key]
    result = {"key": key, "rows": [], "status": "ran", "detail": "", "load_before": _load()}
    sys.path.insert(0, str(BENCH))
    environ, cwd = dict(os.environ), os.getcwd()
    started = time.perf_counter()
    try:
        module = importlib.import_module(module_name)
        function = getattr(module, module_name)
        accepted = inspect.signature(function).parameters
        kwargs = {}
        if "quick" in accepted:
            kwargs["quick"] = quick
        if "rows" in accepted:
            kwargs["rows"] = rows
        if quick and "repeat" in accepted and "quick" not in accepted:
            kwargs["repeat"] = 50
        result["kwargs"] = kwargs
        result["rows"] = list(function(**kwargs))
    except Exception as error:  # a broken module must not hide the others' figures
        if isinstance(error, ModuleNotFoundError) and error.name == module_name:
            result.update(status="not run", detail=f"bench/{module_name}.py does not exist yet")
        else:
            result.update(status="failed", detail=f"{type(error).__name__}: {error}", traceback=traceback.format_exc())
    finally:
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(environ)
        sys.path.remove(str(BENCH))
    result["seconds"] = time.perf_counter() - started
    result["load_after"] = _load()
    return result


# -- formatting -----------------------------------------------------------------------------------


def fmt_seconds(value) -> str:
    if value is None:
        return "–"
    if abs(value) < 1e-3:
        return f"{value * 1e6:.0f} µs"
    if abs(value) < 1:
        return f"{value * 1000:.3g} ms"
    return f"{value:.3g} s"


def fmt_ratio(value) -> str:
    if value is None:
        return "–"
    return f"{value:.3g}"


def fmt_target(target) -> str:
    if isinstance(target, (int, float)) and not isinstance(target, bool):
        return "informational" if math.isinf(target) else f"ratio ≤ {target:g}"
    return str(target) if target not in (None, "") else "–"


def informational(row: dict) -> bool:
    target = row.get("target")
    if isinstance(target, float) and math.isinf(target):
        return True
    return isinstance(target, str) and (not target or "informational" in target)


def fmt_met(row: dict) -> str:
    if informational(row):
        return "–"
    return "yes" if row.get("ok") else "**NO**"


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def section_markdown(result: dict, command: str, when: str) -> str:
    key = result["key"]
    lines = [
        f"## {MODULES[key][1]}",
        "",
        f"Measured {when} with `{command}`; load average (1/5/15 min) {result['load_before']} before, "
        f"{result['load_after']} after; took {result.get('seconds', 0):.0f} s.",
    ]
    if result.get("kwargs"):
        lines[-1] += f" Arguments: `{', '.join(f'{k}={v!r}' for k, v in result['kwargs'].items())}`."
    lines.append("")
    if result["status"] == "not run":
        return "\n".join(lines + [f"Not run: {result['detail']}.", ""])
    if result["status"] == "failed":
        lines += [f"**Failed**: `{_cell(result['detail'])}`", "", "```", result.get("traceback", "").strip(), "```", ""]
        if not result["rows"]:
            return "\n".join(lines)
    lines += ["| benchmark | nbtrack | peer | peer figure | ratio | target | met |", "|---|---|---|---|---|---|---|"]
    notes = []
    for row in result["rows"]:
        name = _cell(row["name"])
        if row.get("note"):
            notes.append(row["note"])
            name += f" [{len(notes)}]"
        lines.append(
            f"| {name} | {fmt_seconds(row.get('nbtrack_s'))} | {_cell(row.get('peer') or '–')} | "
            f"{fmt_seconds(row.get('peer_s'))} | {fmt_ratio(row.get('ratio'))} | "
            f"{_cell(fmt_target(row.get('target')))} | {fmt_met(row)} |"
        )
    lines.append("")
    for number, note in enumerate(notes, 1):
        lines.append(f"[{number}] {_cell(note)}  ")
    judged = [row for row in result["rows"] if not informational(row)]
    missed = [row for row in judged if not row.get("ok")]
    lines.append("")
    lines.append(
        f"Targets missed: {len(missed)} of {len(judged)} rows."
        if missed
        else f"All {len(judged)} targeted rows meet their target."
    )
    return "\n".join(lines).rstrip() + "\n"


def machine_markdown(info: dict, command: str, when: str) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    return "\n".join(
        [
            "## Machine",
            "",
            f"- CPU: {info['cpu']}, {info['cores']} cores (shared with other jobs while measuring)",
            f"- RAM: {info['ram']}",
            f"- OS: {info['os']}",
            f"- Python {info['python']} ({info['executable']})",
            f"- Packages: {versions}",
            f"- Last written {when} by `{command}`",
            "",
        ]
    )


_MARKER = re.compile(r"<!-- bench:(\w+):begin -->\n(.*?)<!-- bench:\1:end -->\n?", re.S)


def write_doc(results: list[dict], info: dict, command: str, when: str, path: Path = DOC) -> None:
    text = path.read_text() if path.exists() else ""
    first = text.find("<!-- bench:")
    intro = (text[:first] if first >= 0 else text).rstrip() or INTRO.rstrip()
    sections = {match.group(1): match.group(2) for match in _MARKER.finditer(text)}
    sections["machine"] = machine_markdown(info, command, when)
    for result in results:
        sections[result["key"]] = section_markdown(result, command, when)
    out = [intro, ""]
    for key in ("machine", *MODULES):
        body = sections.get(key) or f"## {MODULES[key][1]}\n\nNot run yet.\n"
        out += [f"<!-- bench:{key}:begin -->", body.rstrip() + "\n", f"<!-- bench:{key}:end -->", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(out).rstrip() + "\n")


def print_table(results: list[dict]) -> None:
    for result in results:
        print(f"\n== {result['key']}: {result['status']} {result['detail']} ({result.get('seconds', 0):.0f} s)")
        for row in result["rows"]:
            print(
                f"  {fmt_met(row):8} {fmt_seconds(row.get('nbtrack_s')):>10}  vs {fmt_seconds(row.get('peer_s')):>10}"
                f"  ratio {fmt_ratio(row.get('ratio')):>7}  target {fmt_target(row.get('target')):<22} "
                f"{row['name'][:90]}  [{row.get('peer') or '-'}]"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        default=",".join(MODULES),
        help="comma-separated modules to run: core, magic, data, production, sidebar, reliability (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (for checking, not for the record)")
    parser.add_argument(
        "--rows",
        type=int,
        default=None,
        help=f"rows of the data benchmark frame (default {DATA_ROWS:,}; {QUICK_DATA_ROWS:,} with --quick)",
    )
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    keys = [key.strip() for key in args.only.split(",") if key.strip()]
    unknown = [key for key in keys if key not in MODULES]
    if unknown:
        parser.error(f"unknown module(s) {unknown}: choose from {', '.join(MODULES)}")
    rows = args.rows or (QUICK_DATA_ROWS if args.quick else DATA_ROWS)
    argv_text = " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    command = os.environ.get("NBTRACK_BENCH_COMMAND") or f"python bench/run.py {argv_text}".strip()
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info = machine()
    results = []
    for key in keys:
        print(f"running {key} ...", flush=True)
        results.append(run_module(key, args.quick, rows))
    print_table(results)
    if not args.no_write:
        write_doc(results, info, command, when)
        print(f"\nwrote {DOC.relative_to(REPO)}")
    return 0 if all(r["status"] != "failed" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
