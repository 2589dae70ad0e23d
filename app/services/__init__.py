"""What the web offers people and clients, without Flask: submissions, feed actions, imports.

Each use case takes a session (and the queues or settings it needs), does its
work through app.storage and app.queue, commits, and raises its own errors;
the blueprints in app.web only read the request and shape the answer. Nothing
here imports Flask.
"""
