"""Lantern's core: the types, errors, settings, text toolkit and store every layer shares.

Nothing here imports `ingest`, `assistant`, `eval` or `app` (see docs/ARCHITECTURE.md).
"""
