"""Background rerun jobs: a table in the server's memory and a small thread pool."""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from nbtrack.errors import JobNotFoundError, NbtrackError

# work(progress) -> new run id; progress(fraction) reports 0..1.
Work = Callable[[Callable[[float], None]], "str | None"]


@dataclass
class Job:
    job_id: str
    source_run_id: str
    status: str = "queued"  # queued | running | ok | failed
    progress: float = 0.0
    run_id: str | None = None
    error: str | None = None
    created: float = field(default_factory=time.time)
    finished: float | None = None


class JobManager:
    """Runs rerun work on a thread pool and keeps its status for ``GET /jobs/{job_id}``."""

    def __init__(self, max_workers: int = 1, log: Any = None) -> None:
        self._pool = ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="nbtrack-rerun")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._log = log

    def submit(self, source_run_id: str, work: Work) -> Job:
        """Queue ``work`` and return its job (status ``queued``)."""
        job = Job(job_id=uuid.uuid4().hex, source_run_id=source_run_id)
        with self._lock:
            self._jobs[job.job_id] = job
        self._pool.submit(self._run, job, work)
        return job

    def get(self, job_id: str) -> dict[str, Any]:
        """The job as a JSON-ready dict; JobNotFoundError for an unknown id."""
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise JobNotFoundError(
                    f"No rerun job {job_id!r} on this server (jobs are kept in memory and "
                    "forgotten on restart): start one with POST /runs/{run_id}/rerun."
                )
            return asdict(job)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, job: Job, work: Work) -> None:
        self._update(job, status="running")

        def progress(fraction: float) -> None:
            self._update(job, progress=min(1.0, max(0.0, float(fraction))))

        try:
            run_id = work(progress)
        except BaseException as exc:  # a failed rerun is reported, never lost
            if self._log is not None:
                self._log.warning("nbtrack rerun %s failed:\n%s", job.job_id, traceback.format_exc())
            # nbtrack's own errors explain themselves; anything else needs its type to make sense.
            message = str(exc) if isinstance(exc, NbtrackError) else f"{type(exc).__name__}: {exc}"
            self._update(job, status="failed", error=message, finished=time.time(), run_id=getattr(exc, "run_id", None))
        else:
            self._update(job, status="ok", progress=1.0, run_id=run_id, finished=time.time())

    def _update(self, job: Job, **changes: Any) -> None:
        with self._lock:
            for key, value in changes.items():
                setattr(job, key, value)
