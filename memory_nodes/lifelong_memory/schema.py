"""Versioned migrations of the memory's SQLite schema.

``MIGRATIONS[i]`` brings a store from ``PRAGMA user_version`` i to i + 1. They ship with the
package and run inside one transaction each on open, so an old memory file is upgraded in place
and a half-applied migration is impossible. Append new migrations; never edit an old one.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[list[str]] = [
    # 0 -> 1: the four banks, shared texts with their embeddings, and the voxel map
    [
        """CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)""",
        # spatial bank: one row per object track, updated in place by repeated observations
        """CREATE TABLE tracks (
            id INTEGER PRIMARY KEY, name TEXT NOT NULL, label TEXT NOT NULL,
            color TEXT NOT NULL, x REAL, y REAL, z REAL, cov BLOB, ex REAL, ey REAL, ez REAL,
            r REAL, g REAL, b REAL, state TEXT NOT NULL, visual_state TEXT NOT NULL,
            first_seen REAL, last_seen REAL, last_report REAL, last_moved REAL,
            n_obs INTEGER,
            confidence REAL, frame_id TEXT, source TEXT, episode_id TEXT,
            anchor_x REAL, anchor_y REAL, anchor_z REAL, recorded REAL)""",
        """CREATE INDEX tracks_by_name ON tracks (name)""",
        """CREATE TABLE track_aliases (
            external_id TEXT PRIMARY KEY, track_id INTEGER NOT NULL) WITHOUT ROWID""",
        # where each track was from time t on (creation, every settled move)
        """CREATE TABLE track_positions (
            id INTEGER PRIMARY KEY, track_id INTEGER NOT NULL, t REAL NOT NULL,
            x REAL, y REAL, z REAL, var REAL, reason TEXT, episode_id TEXT)""",
        """CREATE INDEX track_positions_by_track ON track_positions (track_id, t)""",
        # temporal bank: the event log
        """CREATE TABLE events (
            id INTEGER PRIMARY KEY, t REAL NOT NULL, kind TEXT NOT NULL,
            subject TEXT NOT NULL, object TEXT NOT NULL, episode_id TEXT NOT NULL,
            has_pos INTEGER NOT NULL, x REAL, y REAL, z REAL, frame_id TEXT, text TEXT,
            source TEXT, confidence REAL, track_id INTEGER, text_id INTEGER,
            recorded REAL, repeats INTEGER NOT NULL DEFAULT 1)""",
        """CREATE INDEX events_by_t ON events (t)""",
        """CREATE INDEX events_by_subject ON events (subject, kind, t)""",
        """CREATE INDEX events_by_kind ON events (kind, t)""",
        """CREATE INDEX events_by_object ON events (object, kind, t)""",
        """CREATE INDEX events_by_episode ON events (episode_id, t)""",
        """CREATE INDEX events_by_text ON events (text_id, t)""",
        """CREATE INDEX events_by_track ON events (track_id, t)""",
        # episodic bank
        """CREATE TABLE episodes (
            id INTEGER PRIMARY KEY, episode_id TEXT NOT NULL UNIQUE, instruction TEXT,
            started REAL, ended REAL, outcome TEXT NOT NULL DEFAULT '', subgoals TEXT,
            key_frames TEXT, trajectory TEXT, text_id INTEGER, recorded REAL)""",
        """CREATE INDEX episodes_by_start ON episodes (started)""",
        """CREATE INDEX episodes_by_text ON episodes (text_id)""",
        # semantic bank: facts; superseded ones stay with a pointer to their successor
        """CREATE TABLE facts (
            id INTEGER PRIMARY KEY, subject TEXT NOT NULL, predicate TEXT NOT NULL,
            object TEXT NOT NULL, t REAL NOT NULL, confidence REAL NOT NULL,
            last_confirmed REAL NOT NULL, source TEXT, episode_id TEXT,
            superseded_by INTEGER, superseded_at REAL, text_id INTEGER, recorded REAL)""",
        """CREATE INDEX facts_by_subject ON facts (subject, predicate)""",
        """CREATE INDEX facts_by_object ON facts (object)""",
        """CREATE INDEX facts_by_text ON facts (text_id)""",
        """CREATE TABLE fact_changes (
            id INTEGER PRIMARY KEY, t REAL NOT NULL, subject TEXT, predicate TEXT,
            old_fact INTEGER, new_fact INTEGER, old_object TEXT, new_object TEXT,
            recorded REAL)""",
        # distinct sentences and their float32 embeddings (NULL until embedded)
        # AUTOINCREMENT: a forgotten sentence's id is never reused (the vector index keys on it)
        """CREATE TABLE texts (
            id INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT NOT NULL UNIQUE, vec BLOB)""",
        """CREATE INDEX texts_unembedded ON texts (id) WHERE vec IS NULL""",
        # coarse occupancy: voxel keys with hit counts
        """CREATE TABLE voxels (
            ix INTEGER, iy INTEGER, iz INTEGER, hits INTEGER, last_seen REAL,
            PRIMARY KEY (ix, iy, iz)) WITHOUT ROWID""",
    ],
]

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the missing migrations in order; return the version the store is now at."""
    version = conn.execute('PRAGMA user_version').fetchone()[0]
    if version > SCHEMA_VERSION:
        raise ValueError(f'store schema version {version} is newer than this library '
                         f'({SCHEMA_VERSION}); upgrade the memory package')
    for target in range(version + 1, SCHEMA_VERSION + 1):
        conn.execute('BEGIN IMMEDIATE')
        try:
            for statement in MIGRATIONS[target - 1]:
                conn.execute(statement)
            conn.execute(f'PRAGMA user_version = {target}')
            conn.execute('COMMIT')
        except BaseException:
            conn.execute('ROLLBACK')
            raise
    return SCHEMA_VERSION
