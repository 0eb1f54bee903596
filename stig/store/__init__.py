"""Local storage: the store port and its adapters (SQLite, and an in-memory twin)."""

from stig.store.memory import MemoryStore
from stig.store.port import Added, Collected, ExportFilter, Hidden, Store, Thread
from stig.store.sqlite import SqliteStore

__all__ = [
    "Added",
    "Collected",
    "ExportFilter",
    "Hidden",
    "MemoryStore",
    "SqliteStore",
    "Store",
    "Thread",
]
