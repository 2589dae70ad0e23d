"""The exception a worker raises inside a running job when it must stop now.

Shared by the RQ workers (app.workers.rqworker), which raise it, and the fetch job
(app.jobs.fetch), which puts its fetch back to queued when it arrives.
"""


class ShutdownInterrupt(BaseException):  # noqa: N818 - it is a signal, not an error
    """Raised in a running job when the worker must stop before the job ends.

    A BaseException so that a job's ``except Exception`` does not swallow it.
    The job puts its fetch back to ``queued``; the worker puts the job back on
    its queue. Neither counts it as a failure.
    """
