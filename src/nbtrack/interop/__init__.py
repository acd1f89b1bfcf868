"""Interoperability with other tools: MLflow export/import (:mod:`.mlflow`) and ``nbtrack doctor`` (:mod:`.doctor`).

Nothing here is imported by ``import nbtrack``; MLflow itself is imported only when an export or import runs.
"""
