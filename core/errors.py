"""Lantern's exception tree: errors a user can act on, each naming the file, line or setting.

    LanternError
    ├── SettingsError          a bad setting value, config file or flag
    ├── IngestError            a file that could not be read (the path is in the message)
    ├── StoreError             the store is missing, locked, or built with another model
    │   ├── StoreNotFound
    │   └── EmptyStore
    ├── FilterError            a --where / filters value Lantern cannot apply
    ├── EndpointError          an OpenAI-compatible endpoint is unreachable or refused
    └── DatasetError           a gold question file with a bad line
"""

from __future__ import annotations


class LanternError(Exception):
    """Base class for every error Lantern raises on purpose."""


class SettingsError(LanternError):
    pass


class IngestError(LanternError):
    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason

    def __reduce__(self):  # picklable, so a worker process can report it
        return (type(self), (self.path, self.reason))


class StoreError(LanternError):
    pass


class StoreNotFound(StoreError):
    pass


class EmptyStore(StoreError):
    pass


class FilterError(LanternError):
    pass


class EndpointError(LanternError):
    pass


class DatasetError(LanternError):
    def __init__(self, path: str, line: int | None, reason: str):
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {reason}")
        self.path = path
        self.line = line
        self.reason = reason

    def __reduce__(self):
        return (type(self), (self.path, self.line, self.reason))
