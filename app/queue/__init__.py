"""Redis-side infrastructure: connections, the RQ queues, RQ's registries, per-host politeness.

Nothing here touches Postgres. Import the modules themselves; this package
imports nothing, so ``import app.queue.shutdown`` stays cheap.
"""
