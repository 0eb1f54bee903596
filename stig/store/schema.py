"""The SQLite schema and its migrations, versioned with ``PRAGMA user_version``.

``MIGRATIONS[i]`` takes a store from version i to i + 1. Never edit a released migration; add
one. Columns after ``raw`` are derived: the store recomputes them with stig.crdt.views.
"""

from __future__ import annotations

from stig.crdt import kinds

_META = ", ".join(f"'{kind}'" for kind in sorted(kinds.META_KINDS))

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the first schema.
    f"""
    CREATE TABLE traces (
        rowid       INTEGER PRIMARY KEY,
        id          BLOB NOT NULL UNIQUE,   -- BLAKE2b-256 of raw
        kind        TEXT NOT NULL,
        author      BLOB NOT NULL,
        created     INTEGER NOT NULL,
        expires     INTEGER NOT NULL,       -- the trace's own expiry
        place       TEXT NOT NULL,
        tags        TEXT NOT NULL,          -- space-separated, for full-text search
        body        TEXT,                   -- NULL once purged (retracted or burned)
        raw         BLOB,                   -- canonical bytes; NULL once purged
        listed      INTEGER NOT NULL,       -- 1 unless a meta kind: {_META}
        hidden      INTEGER NOT NULL,       -- views: is_hidden
        eff_expires INTEGER NOT NULL,       -- views: effective_expiry
        heat        REAL NOT NULL,          -- views: heat (orders like intensity)
        received    INTEGER NOT NULL
    );
    -- The feed is a scan of this index: visible, listed traces, hottest first.
    CREATE INDEX traces_feed ON traces (heat DESC, created DESC, id)
        WHERE hidden = 0 AND listed = 1;
    CREATE INDEX traces_expiry ON traces (eff_expires);
    CREATE INDEX traces_author ON traces (author, created);
    CREATE INDEX traces_burns ON traces (author) WHERE kind = 'burn';

    -- Who references whom. `supports` marks a source of a support kind, and `source_expires`
    -- lets the store find supporters whose own life just ended (their heat term goes away).
    CREATE TABLE refs (
        target         BLOB NOT NULL,
        source         INTEGER NOT NULL,
        supports       INTEGER NOT NULL,
        source_expires INTEGER NOT NULL,
        PRIMARY KEY (target, source)
    ) WITHOUT ROWID;
    CREATE INDEX refs_source ON refs (source);
    CREATE INDEX refs_support_end ON refs (source_expires) WHERE supports = 1;

    CREATE TABLE tags (
        tag   TEXT NOT NULL,
        trace INTEGER NOT NULL,
        PRIMARY KEY (tag, trace)
    ) WITHOUT ROWID;
    CREATE INDEX tags_trace ON tags (trace);

    -- External-content FTS5: rows are added and removed by the store with the values they
    -- were indexed with (SQLite 3.40 has no contentless_delete).
    CREATE VIRTUAL TABLE search USING fts5 (
        body, tags, content = 'traces', content_rowid = 'rowid',
        tokenize = 'unicode61 remove_diacritics 2'
    );

    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO meta VALUES ('refreshed_until', 0);
    -- Rowids only ever grow (never reused after collection), so a rowid is a cursor over
    -- what was stored: the node publishes what other processes stored after its cursor.
    INSERT INTO meta VALUES ('last_rowid', 0);
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
