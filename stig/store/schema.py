"""The SQLite schema and its migrations, versioned with ``PRAGMA user_version``.

``MIGRATIONS[i]`` takes a store from version i to i + 1. Never edit a released migration; add
one. The columns marked "views:" are derived: the store recomputes them with stig.crdt.views
(refs and tags keep copies of their traces' derived columns, kept equal by triggers).
"""

from __future__ import annotations

from stig.crdt import kinds
from stig.crdt.bounds import DAY
from stig.crdt.contour import PLACE_PREFIX, UNCOUNTED_KINDS

_META = ", ".join(f"'{kind}'" for kind in sorted(kinds.META_KINDS))
_UNCOUNTED = ", ".join(f"'{kind}'" for kind in sorted(UNCOUNTED_KINDS))

COUNTED = f"hidden = 0 AND kind NOT IN ({_UNCOUNTED})"
"""The condition of the contour's partial indexes (tags_contour, traces_contour): the rows
contour.py counts but for expiry. Queries repeat it word for word, so SQLite uses them."""

PACK_FUNCTION = "stig_pack"
"""The SQL name under which the store registers stig.store.packed.pack (migration 4 -> 5)."""

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the first schema.
    f"""
    -- The body and tags are not columns: they are in raw, and only full-text indexing reads
    -- them (keeping them twice made rows twice as large, and ingest slower).
    CREATE TABLE traces (
        rowid       INTEGER PRIMARY KEY,
        id          BLOB NOT NULL UNIQUE,   -- BLAKE2b-256 of raw
        kind        TEXT NOT NULL,
        author      BLOB NOT NULL,
        created     INTEGER NOT NULL,
        expires     INTEGER NOT NULL,       -- the trace's own expiry
        place       TEXT NOT NULL,          -- '' once purged
        listed      INTEGER NOT NULL,       -- 1 unless a meta kind: {_META}
        hidden      INTEGER NOT NULL,       -- views: is_hidden
        eff_expires INTEGER NOT NULL,       -- views: effective_expiry
        heat        REAL NOT NULL,          -- views: heat (orders like intensity)
        received    INTEGER NOT NULL,
        raw         BLOB                    -- canonical bytes; NULL once purged (retracted)
    );
    -- The feed is a scan of this index: visible, listed traces, hottest first. It holds what
    -- the common filters test (hidden and listed too: SQLite does not count a partial index's
    -- own condition as covered), so the scan does not read the (large) rows it passes over.
    CREATE INDEX traces_feed
        ON traces (heat DESC, created DESC, id, eff_expires, kind, place, hidden, listed)
        WHERE hidden = 0 AND listed = 1;
    CREATE INDEX traces_expiry ON traces (eff_expires);
    CREATE INDEX traces_author ON traces (author, created);
    CREATE INDEX traces_burns ON traces (author) WHERE kind = 'burn';

    -- Who references whom. `supports` marks a source of a support kind, and `source_expires`
    -- lets the store find supporters whose own life just ended (their heat term goes away).
    -- The other source_ columns copy the source's own row: what ranking a target needs of its
    -- referrers, read in one range of this table instead of one traces row per referrer. The
    -- trigger below keeps the derived ones equal to the source's.
    CREATE TABLE refs (
        target             BLOB NOT NULL,
        source             INTEGER NOT NULL,
        supports           INTEGER NOT NULL,
        source_expires     INTEGER NOT NULL,
        source_kind        TEXT NOT NULL,
        source_author      BLOB NOT NULL,
        source_created     INTEGER NOT NULL,
        source_hidden      INTEGER NOT NULL,
        source_eff_expires INTEGER NOT NULL,
        PRIMARY KEY (target, source)
    ) WITHOUT ROWID;
    CREATE INDEX refs_source ON refs (source);
    CREATE INDEX refs_support_end ON refs (source_expires) WHERE supports = 1;
    CREATE TRIGGER refs_follow_source AFTER UPDATE OF hidden, eff_expires ON traces
        WHEN OLD.hidden IS NOT NEW.hidden OR OLD.eff_expires IS NOT NEW.eff_expires
    BEGIN
        UPDATE refs SET source_hidden = NEW.hidden, source_eff_expires = NEW.eff_expires
            WHERE source = NEW.rowid;
    END;

    CREATE TABLE tags (
        tag   TEXT NOT NULL,
        trace INTEGER NOT NULL,
        PRIMARY KEY (tag, trace)
    ) WITHOUT ROWID;
    CREATE INDEX tags_trace ON tags (trace);

    -- Contentless FTS5 over each trace's body and space-separated tags (taken from raw), with
    -- the traces' rowids: rows are added by the store, and removed with the FTS5 'delete'
    -- command and the values they were indexed with (SQLite 3.40 has no contentless_delete).
    -- Rows are indexed lazily, before a search or a collection (meta 'search_indexed_until').
    CREATE VIRTUAL TABLE search USING fts5 (
        body, tags, content = '', tokenize = 'unicode61 remove_diacritics 2'
    );

    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO meta VALUES ('refreshed_until', 0);
    -- Rowids only ever grow (never reused after collection), so a rowid is a cursor over
    -- what was stored: the node publishes what other processes stored after its cursor.
    INSERT INTO meta VALUES ('last_rowid', 0);
    -- Traces purged from the full-text index since it was last merged: their words are gone
    -- from search results but stay in the index segments until collect() merges them.
    INSERT INTO meta VALUES ('search_purged', 0);
    -- Rows are added to the full-text index after they are stored, not while: those up to
    -- this rowid are indexed (SqliteStore._index_pending).
    INSERT INTO meta VALUES ('search_indexed_until', 0);
    """,
    # 1 -> 2: the contour (stig/crdt/contour.py), counted with aggregates over two indexes.
    f"""
    -- Each tag row copies what the contour asks of its trace: the UTC day it was created
    -- (created / {DAY}), its kind, and its derived hidden and eff_expires (kept equal by the
    -- trigger below, as refs keeps its sources'). So activity by tag x day is one scan of
    -- tags_contour, not a join of every tag row with its trace.
    ALTER TABLE tags ADD COLUMN day INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tags ADD COLUMN kind TEXT NOT NULL DEFAULT '';
    ALTER TABLE tags ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tags ADD COLUMN eff_expires INTEGER NOT NULL DEFAULT 0;
    UPDATE tags SET (day, kind, hidden, eff_expires) = (
        SELECT created / {DAY}, kind, hidden, eff_expires FROM traces
            WHERE traces.rowid = tags.trace
    );
    CREATE TRIGGER tags_follow_trace AFTER UPDATE OF hidden, eff_expires ON traces
        WHEN OLD.hidden IS NOT NEW.hidden OR OLD.eff_expires IS NOT NEW.eff_expires
    BEGIN
        UPDATE tags SET hidden = NEW.hidden, eff_expires = NEW.eff_expires
            WHERE trace = NEW.rowid;
    END;
    -- Both indexes hold the rows the contour counts (not hidden, not {_UNCOUNTED}) in the
    -- order it groups them, so GROUP BY streams without sorting (and tags_contour starts at
    -- the window's first day); like traces_feed they repeat the columns of their own
    -- condition, so that SQLite counts them as covering.
    CREATE INDEX tags_contour ON tags (day, tag, eff_expires, kind, hidden) WHERE {COUNTED};
    CREATE INDEX traces_contour ON traces (
        created / {DAY}, substr(place, 1, {PLACE_PREFIX}), eff_expires, kind, hidden, created,
        place
    ) WHERE {COUNTED};
    """,
    # 2 -> 3: the full-text index deletes in place (FTS5 secure-delete, SQLite >= 3.42).
    """
    -- With this option, an FTS5 'delete' removes the row's entries from the index segments
    -- at once, instead of adding a tombstone that hides them until a merge: the words of a
    -- purged or collected trace leave the file with the statement that deletes them, at a
    -- cost that grows with the row, not with the index. It is kept in search_config (the
    -- table's own persistent configuration). Enabling it makes the index unreadable by an
    -- SQLite older than 3.42 (FTS5 file format 5). The one 'optimize' merges away whatever a
    -- store of schema 2 still held as tombstones (rows evicted since its last collection).
    INSERT INTO search (search, rank) VALUES ('secure-delete', 1);
    INSERT INTO search (search) VALUES ('optimize');
    -- No longer counted (always 0 from here on): nothing waits for a merge.
    UPDATE meta SET value = 0 WHERE key = 'search_purged';
    """,
    # 3 -> 4: what lets a reader keep its rankings across other processes' writes, and a
    # place filter start from the few rows that match it.
    """
    -- Counts every change to a trace's referrers: a refs row added or removed, or a source's
    -- derived columns copied into one (refs_follow_source). A standing (views.standing) read
    -- with one value of (rowid, referred) holds while both are the same, whichever connection
    -- wrote meanwhile; rowids are never reused, so a collected and re-stored trace starts over.
    ALTER TABLE traces ADD COLUMN referred INTEGER NOT NULL DEFAULT 0;
    CREATE TRIGGER refs_added AFTER INSERT ON refs BEGIN
        UPDATE traces SET referred = referred + 1 WHERE id = NEW.target;
    END;
    CREATE TRIGGER refs_removed AFTER DELETE ON refs BEGIN
        UPDATE traces SET referred = referred + 1 WHERE id = OLD.target;
    END;
    CREATE TRIGGER refs_changed AFTER UPDATE OF source_hidden, source_eff_expires ON refs BEGIN
        UPDATE traces SET referred = referred + 1 WHERE id = NEW.target;
    END;
    -- A place filter that few traces match (one nobody uses) starts from this index instead of
    -- scanning the whole feed index (SqliteStore._rare_place).
    CREATE INDEX traces_place ON traces (place) WHERE place != '';
    """,
    # 4 -> 5: each trace's bytes are kept compressed (stig/store/packed.py).
    f"""
    -- `raw` holds what packed.pack made of the canonical bytes (a Zstandard frame, or the
    -- bytes as they are when that is not shorter); every read gives back the canonical bytes
    -- (packed.unpack). {PACK_FUNCTION} is packed.pack, registered on the connection that
    -- migrates. The rows shrink in place; SqliteStore._prepare then VACUUMs the file once, so
    -- that the pages they no longer fill are returned (docs/performance.md, "Disk").
    UPDATE traces SET raw = {PACK_FUNCTION}(raw) WHERE raw IS NOT NULL;
    -- The feed index in ascending order, which the feed scans backwards (heat DESC, created
    -- DESC, id): a new trace is (nearly) the hottest, so its entry now goes at the end of the
    -- index, where SQLite appends to full pages, instead of at the front, where each page
    -- split left two half-empty pages (63 of its 125 B per trace unused, `dbstat`).
    DROP INDEX traces_feed;
    CREATE INDEX traces_feed
        ON traces (heat, created, id DESC, eff_expires, kind, place, hidden, listed)
        WHERE hidden = 0 AND listed = 1;
    """,
    # 5 -> 6: the feed reads no table row for a trace whose standing it keeps.
    """
    -- The feed index also holds `referred`. The feed's page, the cut's neighbours and each
    -- one's (id, eff_expires, rowid, referred) then come from the index alone, and a standing
    -- kept by (rowid, referred) (3 -> 4) needs nothing else: a row's bytes are read only for a
    -- trace ranked anew. After another connection commits, SQLite drops this connection's page
    -- cache, and reading the page's rows again (their leaves and the pages above them) was a
    -- third to a half of the feed statement's time in SQLite at a million traces
    -- (docs/performance.md, "Schema 6: the feed index covers `referred`"). The price: every
    -- change to a trace's referrers (the refs_* triggers bump `referred`) also rewrites its
    -- entry here, not only a change of heat. Same condition, order and other columns as in
    -- 4 -> 5, so that every filter the scan tests is still covered.
    DROP INDEX traces_feed;
    CREATE INDEX traces_feed
        ON traces (heat, created, id DESC, eff_expires, kind, place, hidden, listed, referred)
        WHERE hidden = 0 AND listed = 1;
    """,
)

PACKED_SINCE = 5
"""The schema version from which ``traces.raw`` holds packed values: a store migrated to it
from an older one is VACUUMed once after migrating."""

SCHEMA_VERSION = len(MIGRATIONS)
