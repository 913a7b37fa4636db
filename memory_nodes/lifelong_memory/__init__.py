"""Lifelong embodied memory (no ROS): spatial, temporal, episodic and semantic banks on one
SQLite file, queried in parallel. Start at ``LifelongMemory``; docs/memory.md has the API, the
CLI (``memory query|stats|export``) and the measured figures."""

from .consolidation import ForgetConfig
from .memory import LifelongMemory, MemoryConfig
from .records import (
                      Bank,
                      Episode,
                      Fact,
                      MemoryEntry,
                      MemoryEvent,
                      ObjectObservation,
                      ObservationSource,
                      Query,
                      QueryKind,
                      QueryResult,
)
from .semantic import SemanticConfig
from .spatial import SpatialConfig
from .store import StoreConfig, StoreCorruptError, StoreError, StoreWriteError
from .vector_index import IndexConfig

__all__ = [
    'Bank', 'Episode', 'Fact', 'ForgetConfig', 'IndexConfig', 'LifelongMemory', 'MemoryConfig',
    'MemoryEntry', 'MemoryEvent', 'ObjectObservation', 'ObservationSource', 'Query',
    'QueryKind', 'QueryResult', 'SemanticConfig', 'SpatialConfig', 'StoreConfig',
    'StoreCorruptError', 'StoreError', 'StoreWriteError',
]
