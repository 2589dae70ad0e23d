"""The worker dyno: RQ worker processes, their supervisor, refresh scheduling, reconciliation."""
