"""Batch runs over many volumes on dask.distributed: inputs, tasks, manifest, engine and summary."""
