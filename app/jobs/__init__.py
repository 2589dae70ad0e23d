"""RQ job functions: thin glue that takes ids, runs the pipeline and calls storage."""
