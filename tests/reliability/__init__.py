"""The reliability suite: nothing lost, nothing leaked, nothing hangs.

Each module holds one promise of README's "What Lantern promises" against a hostile world:
hostile files, kill -9 during ingest and update, damaged store files, concurrent writers and
readers, a misbehaving LLM, misbehaving web servers, and a socket guard. The default pytest run
(and so `make test`) takes a few cases of each kind; `make reliability` sets
LANTERN_RELIABILITY=full for the full counts and prints one table row per promise
(`tests/reliability/run.py`).
"""
