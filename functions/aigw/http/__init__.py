"""The ASGI front doors: routes only; the work happens in the pipeline."""
