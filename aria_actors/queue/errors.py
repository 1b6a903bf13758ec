"""Errors of aria_queue. Each docstring is the message and says how to fix the problem."""

from __future__ import annotations

from aria_actors.runtime.errors import AriaError


class QueueError(AriaError):
    """Something went wrong in the job queue."""

    type = "queue"
    status = 500
    title = "Queue error"


class UnknownWorker(QueueError):
    """No worker is registered under this name; declare it with ``@worker(...)`` and import its
    module before enqueueing (``aria queue workers`` lists the registered names)."""

    type = "queue-unknown-worker"
    status = 400
    title = "Unknown worker"


class InvalidJob(QueueError):
    """The job is invalid (the message names the field); fix it and enqueue again. Nothing was
    inserted."""

    type = "queue-invalid-job"
    status = 400
    title = "Invalid job"


class ArgsNotSerializable(InvalidJob):
    """Job args must be a JSON object of JSON values (str, int, float, bool, None, lists, dicts);
    convert the named value before enqueueing. Nothing was inserted."""

    type = "queue-args-not-serializable"


class JobNotAllowed(QueueError):
    """This job may not be enqueued: a ``service:<svc>.<method>`` job can only call a method its
    service declares ``@rpc(..., job=True)``; ask that service's maintainers to declare it, or
    call the service directly."""

    type = "queue-job-not-allowed"
    status = 403
    title = "Job not allowed"


class JobNotFound(QueueError):
    """No job has this id (it may have been pruned); list jobs with ``aria queue jobs``."""

    type = "queue-job-not-found"
    status = 404
    title = "Job not found"


class JobStateConflict(QueueError):
    """The job is not in a state that allows this (e.g. retrying a job that is executing, or
    retrying a unique job whose key another live job holds); check its state first."""

    type = "queue-job-state-conflict"
    status = 409
    title = "Job state conflict"


class QueueNotFound(QueueError):
    """No queue has this name; ``aria queue ls`` lists the queues."""

    type = "queue-not-found"
    status = 404
    title = "Queue not found"


class InvalidCron(QueueError):
    """The crontab expression is invalid; use five fields (minute hour day month weekday) or a
    nickname such as ``@hourly``."""

    type = "queue-invalid-cron"
    status = 400
    title = "Invalid crontab expression"


class QueueNotStarted(QueueError):
    """The queue service has no database pool; wait for ``aria status`` to show aria_queue ready."""

    type = "queue-not-started"
    status = 503
    title = "Queue not started"
