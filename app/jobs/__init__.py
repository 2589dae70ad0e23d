"""RQ entry points: job functions that take ids, run the pipeline and call storage."""
