"""Run a callback right after a module is first imported, or at once when it is already loaded: how the
captures patch matplotlib and scikit-learn only when a cell uses them."""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys


class _AfterImport(importlib.abc.MetaPathFinder):
    """Call ``callback(module)`` right after ``name`` is first imported (while installed)."""

    def __init__(self, name: str, callback):
        self.name, self.callback = name, callback

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        loader, callback = spec.loader, self.callback

        class Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return loader.create_module(spec)

            def exec_module(self, module):
                loader.exec_module(module)
                callback(module)

        spec.loader = Loader()
        return spec


def hook_import(name: str, callback, undo: list) -> None:
    module = sys.modules.get(name)
    if module is not None:
        callback(module)
        return
    finder = _AfterImport(name, callback)
    sys.meta_path.insert(0, finder)
    undo.append(lambda: finder in sys.meta_path and sys.meta_path.remove(finder))
