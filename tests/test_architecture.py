"""The layout's rules (docs/architecture.md), checked on the source so a change that breaks them fails CI.

- The core never imports a shell (``nbtrack.cli``, ``nbtrack.magics``, ``nbtrack.server``) nor the
  frameworks only shells need (click, IPython, ipywidgets, tornado, jupyter_server).
- SQL text lives only in the data-access layer, ``nbtrack.store``.
- Shells import nothing from each other.
"""

from __future__ import annotations

import ast
import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "nbtrack"
SHELLS = ("cli", "magics", "server")
SHELL_FRAMEWORKS = ("click", "IPython", "ipywidgets", "tornado", "jupyter_server")
# The package's entry points only route to a shell: `%load_ext nbtrack` and `python -m nbtrack`.
ENTRY_POINTS = {"__init__.py", "__main__.py"}
# `nbtrack doctor` checks that Jupyter will load the server extension: it asks jupyter_server's own config
# reader (inside that check only), rather than reading Jupyter's config files by hand.
ALLOWED = {("doctor.py", "jupyter_server.extension.config")}
SQL = re.compile(
    r"\b(SELECT\b[\s\S]*\bFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX)"
    r"|DROP\s+TABLE|ALTER\s+TABLE|PRAGMA\s+\w+|BEGIN\s+IMMEDIATE)\b"
)


def _modules(*, under: str | None = None) -> list[Path]:
    root = PACKAGE / under if under else PACKAGE
    return sorted(p for p in root.rglob("*.py") if "labextension" not in p.parts)


def _layer(path: Path) -> str:
    first = path.relative_to(PACKAGE).parts[0]
    return first if first in SHELLS else "core"


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module an import statement names (at any depth of the file, in functions too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{path}:{node.lineno}: relative import (nbtrack uses absolute imports)"
            found.append((node.lineno, node.module))
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _core_modules() -> list[Path]:
    return [p for p in _modules() if _layer(p) == "core" and p.relative_to(PACKAGE).as_posix() not in ENTRY_POINTS]


def test_the_core_imports_no_shell_and_no_shell_framework():
    banned = tuple(f"nbtrack.{shell}" for shell in SHELLS) + SHELL_FRAMEWORKS
    problems = [
        f"{path.relative_to(PACKAGE)}:{line}: imports {name}"
        for path in _core_modules()
        for line, name in _imports(path)
        if any(name == b or name.startswith(b + ".") for b in banned)
        and not any(path.relative_to(PACKAGE).as_posix() == f and name.startswith(m) for f, m in ALLOWED)
    ]
    assert not problems, "The core must not depend on a shell:\n" + "\n".join(problems)


def test_shells_do_not_import_each_other():
    problems = []
    for path in _modules():
        layer = _layer(path)
        if layer == "core":
            continue
        others = [f"nbtrack.{s}" for s in SHELLS if s != layer]
        problems += [
            f"{path.relative_to(PACKAGE)}:{line}: imports {name}"
            for line, name in _imports(path)
            if any(name == o or name.startswith(o + ".") for o in others)
        ]
    assert not problems, "A shell calls the core, never another shell:\n" + "\n".join(problems)


def _sql_strings(path: Path) -> list[tuple[int, str]]:
    found = []
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    for token in tokens:
        if token.type == tokenize.STRING and SQL.search(token.string):
            found.append((token.start[0], " ".join(token.string.split())[:80]))
    return found


def test_sql_appears_only_in_the_data_access_layer():
    outside = [p for p in _modules() if p.relative_to(PACKAGE).parts[0] != "store"]
    problems = [f"{path.relative_to(PACKAGE)}:{line}: {text}" for path in outside for line, text in _sql_strings(path)]
    assert not problems, "SQL belongs in nbtrack/store/ (the data-access layer):\n" + "\n".join(problems)


def test_the_sql_detector_finds_sql(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        'q = "SELECT run_id FROM runs"\nw = "INSERT OR REPLACE INTO tags VALUES (?)"\n'
        'd = """Select a run from the list"""\n'
    )
    assert [line for line, _ in _sql_strings(sample)] == [1, 2]


@pytest.mark.parametrize(
    "module",
    [
        "nbtrack",
        "nbtrack.store",
        "nbtrack.tracking",
        "nbtrack.reading",
        "nbtrack.capture.cell",
        "nbtrack.data",
        "nbtrack.production.execute",
    ],
)
def test_importing_the_core_loads_no_shell_framework(module):
    code = (
        f"import sys, {module}\n"
        f"loaded = sorted(m for m in {SHELL_FRAMEWORKS!r} if m in sys.modules)\n"
        "print(','.join(loaded))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "", f"import {module} loaded {result.stdout.strip()}"


@pytest.mark.parametrize("module", ["nbtrack", "nbtrack.data"])
def test_the_lazy_exports_are_what_all_lists_and_type_checkers_see(module):
    package = __import__(module, fromlist=["_EXPORTS"])
    assert sorted(package.__all__) == sorted(
        [*package._EXPORTS, *(["__version__", "load_ipython_extension", "runs_widget"] if module == "nbtrack" else [])]
    )
    source = (PACKAGE / ("__init__.py" if module == "nbtrack" else "data/__init__.py")).read_text()
    checked = source.split("if TYPE_CHECKING:")[1].split("_EXPORTS = ")[0]
    missing = [name for name in package._EXPORTS if not re.search(rf"\b{name}\b", checked)]
    assert not missing, f"add these to the TYPE_CHECKING imports of {module}: {missing}"
    for name in package._EXPORTS:
        assert getattr(package, name) is not None
