"""Every scikit-learn estimator fitted at top level while a tracked cell runs (:class:`FitRecorder`), with how
many fits the user's own code made; fits inside library calls are not the cell's models."""

from __future__ import annotations

import copy
import sys
import threading

from nbtrack.capture._imports import hook_import


class FitRecorder:
    """Every estimator whose ``fit`` (or ``fit_transform``/``fit_predict``) returns during the cell.

    ``fit`` is wrapped on every ``BaseEstimator`` subclass (including classes created during the cell)
    and restored afterwards. A fit that happens inside another fit (a Pipeline's steps, a search's
    clones) is not recorded: only the outermost estimator is.
    """

    METHODS = ("fit", "fit_transform", "fit_predict")

    def __init__(self, namespace: dict | None = None):
        self.fitted: list = []
        #: fits called directly by the user's code (a frame whose globals are ``namespace``)
        self.user_fits = 0
        self._namespace = namespace
        self._ids: set[int] = set()
        self._depth = 0
        self._lock = threading.Lock()
        self._undo: list = []

    def __enter__(self) -> FitRecorder:
        hook_import("sklearn.base", self._patch_all, self._undo)
        return self

    def _patch_all(self, base_module) -> None:
        base = base_module.BaseEstimator
        stack = [base]
        while stack:
            cls = stack.pop()
            self._patch_class(cls)
            stack.extend(cls.__subclasses__())
        original = base.__dict__.get("__init_subclass__")
        recorder = self

        def init_subclass(cls, **kwargs):
            if original is not None:
                original.__func__(cls, **kwargs)
            else:
                super(base, cls).__init_subclass__(**kwargs)
            recorder._patch_class(cls)

        base.__init_subclass__ = classmethod(init_subclass)

        def undo():
            if original is None:
                del base.__init_subclass__
            else:
                base.__init_subclass__ = original

        self._undo.append(undo)

    def _patch_class(self, cls: type) -> None:
        for method in self.METHODS:
            function = cls.__dict__.get(method)
            if function is None:
                continue
            if callable(function):
                wrapped = self._wrap(function)
            elif callable(getattr(function, "fn", None)) and hasattr(function, "__get__"):
                # scikit-learn's ``available_if`` descriptor (``Pipeline.fit_transform``/``fit_predict``):
                # the same descriptor around the wrapped function
                wrapped = copy.copy(function)
                wrapped.fn = self._wrap(function.fn)
            else:
                continue
            setattr(cls, method, wrapped)
            self._undo.append(lambda cls=cls, method=method, function=function: setattr(cls, method, function))

    def _wrap(self, function):
        recorder = self

        def fit(estimator, *args, **kwargs):
            with recorder._lock:
                recorder._depth += 1
                outermost = recorder._depth == 1
            try:
                result = function(estimator, *args, **kwargs)
            finally:
                with recorder._lock:
                    recorder._depth -= 1
            if outermost:
                namespace = recorder._namespace
                if namespace is None or sys._getframe(1).f_globals is namespace:
                    recorder.user_fits += 1
                if id(estimator) not in recorder._ids:
                    recorder._ids.add(id(estimator))
                    recorder.fitted.append(estimator)
            return result

        fit.__wrapped__ = function
        for attribute in ("__name__", "__qualname__", "__doc__", "__module__"):
            setattr(fit, attribute, getattr(function, attribute, None))
        return fit

    def __exit__(self, *exc) -> None:
        while self._undo:
            self._undo.pop()()
