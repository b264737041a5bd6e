"""Pre-aggregated report cells in DATA/reports.db, kept up to date by the engine process.

`ReportAggregator` is the one writer of reports.db (a reports thread of the engine process, never
the media thread). It reads records.db read-only and adds up *settled* 15-minute cells: a cell
[b, b+15 min) is aggregated once `settle_s` (default 2 h) has passed after it, so the calls that
entered in it have ended and their wrap-up, disposition and survey have arrived. Everything is
additive (cells and wait histograms are summed with upserts); each chunk is one transaction that
also moves the watermark and stores who was logged in and paused at it, so the aggregator resumes
exactly where it stopped and `rebuild()` starts again from the first event.

First-contact resolution needs the future: each answered call with a caller number is kept in
`contacts` for the FCR window; when a later contact from the same number is aggregated, the earlier
one is marked repeated and its cell's `fcr_repeated` grows (so FCR of the last window settles as
time passes, as it must).

Late data: an event can reach the log after its cell was aggregated (a disposition typed hours
later, a callback answered days after the abandon, rows replayed after a restore). Every update
remembers the highest `queue_events.id` it has read (`seen_id`); rows above it that belong to a
call already aggregated (table `calls_seen`: call id -> entry time, kept for `LATE_LOOKBACK_S`) or
lie before the watermark rewind the aggregation to the start of the chunk holding the earliest
affected cell (table `chunk_state`: who was logged in and paused at each chunk start). Cells,
waits, contacts and day rollups from there on are deleted (the affected day's rollup is rebuilt from
its remaining cells) and aggregated again from the event log. A late event later than a chunk's
read window (its end + `settle_s`) is remembered by id (`late_events`, kept across `rebuild()`)
and read with the chunk of its call, so the cells equal the raw count of the event log.

`report_from_aggregates` answers a report from the cells before the watermark plus the raw events
after it (the last two hours or so), through the same rollup and KPI registry as the raw path.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from .events import open_readonly, read_call_spans, read_store
from .kpis import Counts, KpiParams
from .menus import MENU_CELLS_DDL, count_menu_cells
from .model import EventModel, Thresholded, Totals
from .periods import GRAINS, MINUTE_GRAINS, bucket_start, timezone
from .report import CELL_S, CellKey, ReportRequest, assemble, cells_from_events, rollup
from .source import Site

log = logging.getLogger("linebox.reports")

SCALARS = [f.name for f in fields(Totals) if f.name not in
           ("answer_waits", "abandon_waits", "other_waits", "line_capacity_s", "pre")]
WAIT_KINDS = ("answer_waits", "abandon_waits", "other_waits")
KEY = ("bucket", "queue", "agent", "disposition", "line")
# wait figures pre-counted for the default thresholds (T = 20 s, S = 5 s): a report with these reads
# no wait histogram at all; another T or S sums the histograms in SQL (slower, still exact)
PRE_T, PRE_S = KpiParams().sl_threshold_s, KpiParams().short_abandon_s
PRE = ("pre_answered_in_t", "pre_answer_wait_sum", "pre_short", "pre_abandoned", "pre_abandoned_in_t")
PRE_COLS = ", ".join(f"{c} INTEGER NOT NULL DEFAULT 0" for c in PRE) + ", pre_longest INTEGER"
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    bucket INTEGER NOT NULL, queue TEXT NOT NULL, agent TEXT NOT NULL, disposition TEXT NOT NULL,
    line TEXT NOT NULL, day INTEGER NOT NULL, {', '.join(f'{c} REAL NOT NULL DEFAULT 0' for c in SCALARS)},
    {PRE_COLS},
    PRIMARY KEY (bucket, queue, agent, disposition, line)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS day_cells (
    day INTEGER NOT NULL, queue TEXT NOT NULL, agent TEXT NOT NULL, disposition TEXT NOT NULL,
    line TEXT NOT NULL, {', '.join(f'{c} REAL NOT NULL DEFAULT 0' for c in SCALARS)}, {PRE_COLS},
    PRIMARY KEY (day, queue, agent, disposition, line)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS waits (
    bucket INTEGER NOT NULL, queue TEXT NOT NULL, agent TEXT NOT NULL, disposition TEXT NOT NULL,
    line TEXT NOT NULL, day INTEGER NOT NULL, kind INTEGER NOT NULL, wait INTEGER NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (bucket, queue, agent, disposition, line, kind, wait)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS contacts (
    number TEXT NOT NULL, entered REAL NOT NULL, bucket INTEGER NOT NULL, queue TEXT NOT NULL,
    agent TEXT NOT NULL, disposition TEXT NOT NULL, line TEXT NOT NULL, repeated INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS contacts_by_number ON contacts (number, entered);
CREATE TABLE IF NOT EXISTS chunk_state (start INTEGER PRIMARY KEY, agent_state TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS calls_seen (call_id TEXT PRIMARY KEY, entered REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS late_events (id INTEGER PRIMARY KEY, ts REAL NOT NULL);
CREATE INDEX IF NOT EXISTS late_events_ts ON late_events (ts);
"""
SCHEMA_VERSION = 5               # 5: Totals.faxes (EXITFAX out of entered)
LATE_LOOKBACK_S = 31 * 86400     # a late event of a call that entered longer ago than this is counted at its own time
SETTLE_S = 7200
CHUNK_S = 86400
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(path.resolve()), threading.Lock())


class ReportAggregator:
    """The incremental aggregator (the only writer of reports.db)."""

    def __init__(self, data_dir: Path | str, site: Site | Callable[[], Site] | None = None,
                 settle_s: float = SETTLE_S, fcr_window_days: float = 7.0) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / "reports.db"
        self.records_path = self.data_dir / "records.db"
        self._site = site if site is not None else Site()
        self.settle_s = settle_s
        self.fcr_window_s = fcr_window_days * 86400
        self._lock = _lock_for(self.path)

    def site(self) -> Site:
        return self._site() if callable(self._site) else self._site

    def _open(self) -> sqlite3.Connection:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")     # derived data: rebuildable from records.db
        if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            # another layout (older firmware): derived data, so start again from the event log
            db.executescript("DROP TABLE IF EXISTS meta; DROP TABLE IF EXISTS cells; DROP TABLE IF EXISTS waits; "
                             "DROP TABLE IF EXISTS contacts; DROP TABLE IF EXISTS day_cells;")
            db.executescript(SCHEMA + MENU_CELLS_DDL)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return db

    @staticmethod
    def _meta(db: sqlite3.Connection) -> dict:
        return {k: json.loads(v) for k, v in db.execute("SELECT key, value FROM meta")}

    def get_meta(self, key: str):
        with self._lock:
            db = self._open()
            try:
                row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
            finally:
                db.close()
        return json.loads(row[0]) if row else None

    def set_meta(self, key: str, value) -> None:
        with self._lock:
            db = self._open()
            try:
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))
            finally:
                db.close()

    def rebuild(self, now: float | None = None) -> dict:
        """Forget every cell and aggregate again from the first event."""
        with self._lock:
            db = self._open()
            try:
                db.executescript("BEGIN IMMEDIATE; DELETE FROM cells; DELETE FROM waits; DELETE FROM contacts; "
                                 "DELETE FROM day_cells; DELETE FROM chunk_state; DELETE FROM calls_seen; DELETE FROM menu_cells; "
                                 "DELETE FROM meta WHERE key NOT LIKE 'daily_mail%'; COMMIT;")
            finally:
                db.close()
        return self.update(now)

    def update(self, now: float | None = None, max_chunks: int | None = None) -> dict:
        """Aggregate every settled cell not yet aggregated. Returns what was done."""
        now = time.time() if now is None else now
        if not self.records_path.exists():
            return {"chunks": 0, "watermark": None}
        with self._lock:
            db = self._open()
            src = open_readonly(self.records_path)
            try:
                return self._update(db, src, now, max_chunks)
            finally:
                src.close()
                db.close()

    def _update(self, db: sqlite3.Connection, src: sqlite3.Connection, now: float, max_chunks: int | None) -> dict:
        meta = self._meta(db)
        site = self.site()
        if meta.get("fcr_window_s") not in (None, self.fcr_window_s) or meta.get("tz") not in (None, site.timezone):
            log.info("reports: the FCR window or the timezone changed; rebuilding reports.db")
            db.executescript("BEGIN IMMEDIATE; DELETE FROM cells; DELETE FROM waits; DELETE FROM contacts; "
                             "DELETE FROM day_cells; DELETE FROM chunk_state; DELETE FROM calls_seen; DELETE FROM menu_cells; "
                             "DELETE FROM meta WHERE key NOT LIKE 'daily_mail%'; COMMIT;")
            meta = {}
        src.execute("BEGIN")                 # one read snapshot: the max id and the events agree
        try:
            return self._update_from(db, src, now, max_chunks, meta, site)
        finally:
            src.execute("COMMIT")

    def _update_from(self, db: sqlite3.Connection, src: sqlite3.Connection, now: float, max_chunks: int | None,
                     meta: dict, site: Site) -> dict:
        max_id = _max_event_id(src)
        seen_id = meta.get("seen_id")
        rewound = None
        if meta.get("watermark") is not None and seen_id is not None and max_id > seen_id:
            late = self._earliest_late(db, src, int(seen_id), int(meta["watermark"]))
            if late is not None:
                rewound = self._rewind(db, late, timezone(site.timezone))
                if rewound is not None:
                    meta = self._meta(db)
        watermark = meta.get("watermark")
        if watermark is None:
            first = _first_event_ts(src)
            if first is None:
                return {"chunks": 0, "watermark": None}
            watermark = int(first - first % CELL_S)
        target = int((now - self.settle_s) - (now - self.settle_s) % CELL_S)
        state = meta.get("agent_state") or {}
        tz = timezone(site.timezone)
        params = KpiParams(fcr_window_days=self.fcr_window_s / 86400)
        chunks = 0
        while watermark < target and (max_chunks is None or chunks < max_chunks):
            end = min(target, watermark + CHUNK_S)
            chunk_start_state = state
            events = read_store(src, watermark, end + self.settle_s)
            late = [r[0] for r in db.execute("SELECT id FROM late_events WHERE ts >= ?", (end + self.settle_s,))]
            if late:                       # events of this chunk's calls that came after its read window
                events = sorted([*events, *_events_by_id(src, late)], key=lambda e: (e.ts, e.id))
            spans = read_call_spans(src, watermark, end)
            model = EventModel(state)
            cells, counted = cells_from_events(events, watermark, end, params, spans, site.n_lines, model=model)
            state = model.agent_state()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("INSERT OR REPLACE INTO chunk_state VALUES (?, ?)",
                           (int(watermark), json.dumps(chunk_start_state)))
                self._fcr_contacts(db, counted, cells, spans, watermark)
                self._write_cells(db, cells, tz)
                count_menu_cells(db, src, watermark, end)
                db.executemany("INSERT OR REPLACE INTO calls_seen VALUES (?, ?)",
                               [(c.call_id, c.entered) for c in counted])
                db.execute("DELETE FROM calls_seen WHERE entered < ?", (end - LATE_LOOKBACK_S,))
                db.execute("DELETE FROM late_events WHERE ts < ?", (end - 366 * 86400,))
                for k, v in (("watermark", end), ("agent_state", state), ("fcr_window_s", self.fcr_window_s),
                             ("n_lines", site.n_lines), ("updated", now), ("tz", site.timezone),
                             ("seen_id", max_id)):
                    db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, json.dumps(v)))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            watermark = end
            chunks += 1
        if not chunks and seen_id != max_id and watermark is not None:
            db.execute("INSERT OR REPLACE INTO meta VALUES ('seen_id', ?)", (json.dumps(max_id),))
        return {"chunks": chunks, "watermark": watermark, "rewound_to": rewound}

    def _earliest_late(self, db: sqlite3.Connection, src: sqlite3.Connection, seen_id: int,
                       watermark: int) -> float | None:
        """The earliest time whose cells the events added since `seen_id` change: the entry time of
        an already aggregated call they belong to, or their own time when before the watermark."""
        new = read_store(src, after_id=seen_id)
        if not new:
            return None
        late_ids: list[tuple[int, float]] = []
        ids = list({e.call_id for e in new if e.call_id != "NONE"})
        entered: dict[str, float] = {}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            entered.update(db.execute(f"SELECT call_id, entered FROM calls_seen WHERE call_id IN "
                                      f"({', '.join('?' * len(part))})", part).fetchall())
        times = [entered[e.call_id] for e in new if e.call_id in entered]
        times += [e.ts for e in new if e.ts < watermark and e.call_id not in entered]
        late_ids = [(e.id, e.ts) for e in new if e.call_id in entered or e.ts < watermark]
        if late_ids:
            db.executemany("INSERT OR IGNORE INTO late_events VALUES (?, ?)", late_ids)
        return min(times) if times else None

    def _rewind(self, db: sqlite3.Connection, late: float, tz) -> int | None:
        """Move the watermark back to the chunk holding `late` and forget every cell from there."""
        row = db.execute("SELECT start, agent_state FROM chunk_state WHERE start <= ? ORDER BY start DESC LIMIT 1",
                         (late,)).fetchone()
        if row is None:
            row = db.execute("SELECT start, agent_state FROM chunk_state ORDER BY start LIMIT 1").fetchone()
            if row is None:
                return None
        start, state = int(row[0]), row[1]
        day = dt.datetime.fromtimestamp(start, tz).date().toordinal()
        log.info("reports: events arrived late for %s; aggregating again from there",
                 dt.datetime.fromtimestamp(start, tz).isoformat(timespec="minutes"))
        sums = ", ".join([f"SUM({c})" for c in (*SCALARS, *PRE)] + ["MAX(pre_longest)"])
        cols = ", ".join([*SCALARS, *PRE, "pre_longest"])
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM cells WHERE bucket >= ?", (start,))
            db.execute("DELETE FROM waits WHERE bucket >= ?", (start,))
            db.execute("DELETE FROM menu_cells WHERE bucket >= ?", (start,))
            db.execute("DELETE FROM contacts WHERE bucket >= ?", (start,))
            db.execute("DELETE FROM calls_seen WHERE entered >= ?", (start,))
            db.execute("DELETE FROM chunk_state WHERE start > ?", (start,))
            db.execute("DELETE FROM day_cells WHERE day >= ?", (day,))
            db.execute(f"INSERT INTO day_cells (day, queue, agent, disposition, line, {cols}) "
                       f"SELECT day, queue, agent, disposition, line, {sums} FROM cells WHERE day = ? "
                       "GROUP BY day, queue, agent, disposition, line", (day,))
            for k, v in (("watermark", start), ("agent_state", json.loads(state))):
                db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (k, json.dumps(v)))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return start

    def _fcr_contacts(self, db: sqlite3.Connection, counted, cells: dict, spans, start: float) -> None:
        line_of = {s.call_id: s.line for s in spans}
        for c in counted:
            if not c.caller:
                continue
            earlier = db.execute(
                "SELECT rowid, bucket, queue, agent, disposition, line FROM contacts "
                "WHERE number = ? AND entered >= ? AND entered < ? AND repeated = 0",
                (c.caller, c.entered - self.fcr_window_s, c.entered)).fetchall()
            for rowid, *key in earlier:
                db.execute("UPDATE contacts SET repeated = 1 WHERE rowid = ?", (rowid,))
                db.execute("UPDATE cells SET fcr_repeated = fcr_repeated + 1 WHERE bucket = ? AND queue = ? AND "
                           "agent = ? AND disposition = ? AND line = ?", key)
                db.execute("UPDATE day_cells SET fcr_repeated = fcr_repeated + 1 WHERE day = (SELECT day FROM "
                           "cells WHERE bucket = ? AND queue = ? AND agent = ? AND disposition = ? AND line = ?) "
                           "AND queue = ? AND agent = ? AND disposition = ? AND line = ?", (*key, *key[1:]))
        rows = [(c.caller, c.entered, int(c.entered - c.entered % CELL_S), c.queue, c.agent, c.disposition,
                 line_of.get(c.call_id, ""), int(c.repeated))
                for c in counted if c.caller and c.outcome == "answered"]
        db.executemany("INSERT INTO contacts VALUES (?,?,?,?,?,?,?,?)", rows)
        db.execute("DELETE FROM contacts WHERE entered < ?", (start - self.fcr_window_s,))

    @staticmethod
    def _write_cells(db: sqlite3.Connection, cells: dict[CellKey, Totals], tz) -> None:
        """Add cells (upserts) and their day rollup. Each cell carries its local day (ordinal, in the
        site's timezone) and its wait figures for the default thresholds; a timezone change rebuilds."""
        days: dict[int, int] = {}

        def day_of(bucket: int) -> int:
            d = days.get(bucket)
            if d is None:
                d = days[bucket] = dt.datetime.fromtimestamp(bucket, tz).date().toordinal()
            return d
        longest_upd = ("pre_longest = CASE WHEN excluded.pre_longest IS NULL THEN pre_longest WHEN pre_longest IS "
                       "NULL THEN excluded.pre_longest ELSE MAX(pre_longest, excluded.pre_longest) END")
        upd = ", ".join([f"{c} = {c} + excluded.{c}" for c in (*SCALARS, *PRE)] + [longest_upd])
        values = [*SCALARS, *PRE, "pre_longest"]
        rows, by_day = [], {}
        for k, t in cells.items():
            c = Counts(t, KpiParams())
            pre = (c.answered_in_t, c.answer_wait_sum, c.short, c.abandoned, c.abandoned_in_t, c.longest)
            vals = (*(getattr(t, n) for n in SCALARS), *pre)
            d = day_of(k.bucket)
            rows.append((*k, d, *vals))
            dk = (d, *k[1:])
            old = by_day.get(dk)
            if old is None:
                by_day[dk] = list(vals)
            else:
                for i in range(len(vals) - 1):
                    old[i] += vals[i]
                if vals[-1] is not None:
                    old[-1] = vals[-1] if old[-1] is None else max(old[-1], vals[-1])
        db.executemany(f"INSERT INTO cells ({', '.join(KEY)}, day, {', '.join(values)}) VALUES "
                       f"({', '.join('?' * (len(KEY) + 1 + len(values)))}) ON CONFLICT ({', '.join(KEY)}) "
                       f"DO UPDATE SET {upd}", rows)
        dkey = ("day", "queue", "agent", "disposition", "line")
        db.executemany(f"INSERT INTO day_cells ({', '.join(dkey)}, {', '.join(values)}) VALUES "
                       f"({', '.join('?' * (len(dkey) + len(values)))}) ON CONFLICT ({', '.join(dkey)}) "
                       f"DO UPDATE SET {upd}", [(*dk, *v) for dk, v in by_day.items()])
        db.executemany("INSERT INTO waits VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (bucket, queue, agent, "
                       "disposition, line, kind, wait) DO UPDATE SET n = n + excluded.n",
                       [(*k, day_of(k.bucket), kind, w, n) for k, t in cells.items()
                        for kind, name in enumerate(WAIT_KINDS) for w, n in getattr(t, name).items()])


def _events_by_id(src: sqlite3.Connection, ids: list[int]) -> list:
    from .events import QueueEvent
    out = []
    for i in range(0, len(ids), 500):
        part = ids[i:i + 500]
        for row in src.execute("SELECT id, ts, call_id, queue, agent, event, data1, data2, data3, data4, data5 "
                               f"FROM queue_events WHERE id IN ({', '.join('?' * len(part))})", part):
            out.append(QueueEvent(float(row[1]), str(row[2]), str(row[3]), str(row[4]), str(row[5]),
                                  tuple("" if v is None else str(v) for v in row[6:11]), int(row[0])))
    return out


def _max_event_id(src: sqlite3.Connection) -> int:
    try:
        row = src.execute("SELECT MAX(id) FROM queue_events").fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0] or 0)


def _first_event_ts(src: sqlite3.Connection) -> float | None:
    try:
        row = src.execute("SELECT MIN(ts) FROM queue_events").fetchone()
    except sqlite3.OperationalError:
        row = None
    first = row[0] if row else None
    try:
        calls = src.execute("SELECT MIN(start) FROM calls").fetchone()[0]
    except sqlite3.OperationalError:
        calls = None
    known = [v for v in (first, calls) if v is not None]
    return min(known) if known else None


# ---- reading

DAY_GRAINS = ("day", "week", "month", "year")


def _query_groups(conn: sqlite3.Connection, req: ReportRequest, since: float, until: float,
                  by_day: bool = False) -> tuple[dict, Totals]:
    """Grouped Totals and the total of the cells in [since, until), one pass: SQL sums by the
    grouping column (local day for day/week/month/year, bucket for 15/30/60 minutes), then Python
    maps SQL groups to report groups. `by_day`: read the day rollup (since/until are local
    midnights). Wait figures: the pre-counted columns for the default T and S, else the wait
    histograms reduced in SQL for the asked T and S."""
    group_by = req.group_by
    col = {"queue": "queue", "agent": "agent", "team": "agent", "line": "line", "disposition": "disposition",
           "total": "'total'", "15min": "bucket", "30min": "bucket", "60min": "bucket"}.get(group_by, "day")
    T, S = req.params.sl_threshold_s, req.params.short_abandon_s
    precounted = (T, S) == (PRE_T, PRE_S)
    if by_day:
        table, where = "day_cells", "WHERE day >= :d0 AND day < :d1"
        bounds = {"d0": dt.datetime.fromtimestamp(since, req.tz).date().toordinal(),
                  "d1": dt.datetime.fromtimestamp(until, req.tz).date().toordinal()}
    else:
        table, where = "cells", "WHERE bucket >= :d0 AND bucket < :d1"
        bounds = {"d0": since, "d1": until}
    cache: dict = {}

    def group(g, is_call: bool):
        if group_by in GRAINS:
            key = cache.get(g)
            if key is None:
                if group_by in DAY_GRAINS:
                    key = day_group(dt.date.fromordinal(int(g)), group_by, req.tz)
                else:
                    key = bucket_start(g, group_by, req.tz)
                cache[g] = key
            return key
        return _group_value(group_by, req.teams, g, is_call)

    out: dict = {}
    total = Totals()
    pre_sql = ", ".join(f"SUM({c})" for c in PRE) + ", MAX(pre_longest)" if precounted else ""
    sums = ", ".join(f"SUM({c})" for c in SCALARS) + (", " + pre_sql if pre_sql else "")
    n = len(SCALARS)
    for row in conn.execute(f"SELECT {col}, queue != '', {sums} FROM {table} {where} GROUP BY {col}, queue != ''",
                            bounds):
        key = group(row[0], bool(row[1]))
        targets = [total] if key is None else [total, out.setdefault(key, Totals())]
        for name, v in zip(SCALARS, row[2:2 + n], strict=True):
            for t in targets:
                setattr(t, name, getattr(t, name) + (v or 0))
        if precounted:
            a_in_t, a_sum, short, ab, ab_in_t, longest = row[2 + n:]
            pre = Thresholded(T, S, int(a_in_t or 0), int(a_sum or 0), int(short or 0), int(ab or 0),
                              int(ab_in_t or 0), None if longest is None else int(longest))
            for t in targets:
                t.pre = pre + t.pre if t.pre is not None else pre
    if not precounted:
        wcol = "day" if by_day else col
        wwhere = "WHERE day >= :d0 AND day < :d1" if by_day else where
        for g, is_call, a_in_t, a_sum, short, ab, ab_in_t, longest in conn.execute(
                f"SELECT {wcol}, queue != '', "
                "SUM(CASE WHEN kind = 0 AND wait <= :T THEN n ELSE 0 END), "
                "SUM(CASE WHEN kind = 0 THEN n * wait ELSE 0 END), "
                "SUM(CASE WHEN kind = 1 AND wait < :S THEN n ELSE 0 END), "
                "SUM(CASE WHEN kind = 1 AND wait >= :S THEN n ELSE 0 END), "
                "SUM(CASE WHEN kind = 1 AND wait >= :S AND wait <= :T THEN n ELSE 0 END), MAX(wait) "
                f"FROM waits {wwhere} GROUP BY {wcol}, queue != ''", {"T": T, "S": S, **bounds}):
            pre = Thresholded(T, S, a_in_t, a_sum, short, ab, ab_in_t, longest)
            key = group(g, bool(is_call))       # by_day: only for day groupings, so wcol == col
            targets = [total] if key is None else [total, out.setdefault(key, Totals())]
            for t in targets:
                t.pre = pre + t.pre if t.pre is not None else pre
    for t in (total, *out.values()):
        for name in SCALARS:
            v = getattr(t, name)
            if isinstance(v, float) and v.is_integer() and name not in FLOAT_FIELDS:
                setattr(t, name, int(v))
    return out, total


FLOAT_FIELDS = frozenset({"talk_s", "wrap_s", "login_s", "paused_s", "busy_s", "line_busy_s", "all_lines_busy_s"})


def day_group(day: dt.date, grain: str, tz) -> float:
    if grain == "week":
        day = day - dt.timedelta(days=day.weekday())
    elif grain == "month":
        day = day.replace(day=1)
    elif grain == "year":
        day = day.replace(month=1, day=1)
    return dt.datetime.combine(day, dt.time(), tzinfo=tz).timestamp()


def _group_value(group_by: str, teams: dict[str, str], g, is_call: bool):
    """The same rule as report.group_key, on an SQL group value."""
    if group_by in ("queue", "agent", "line"):
        return g or None
    if group_by == "team":
        return teams.get(g, "(no team)") if g else None
    if group_by == "disposition":
        return g or ("(none)" if is_call else None)
    return g


def report_from_aggregates(reports_db: Path, records_db: Path, req: ReportRequest) -> dict | None:
    """The report from reports.db (+ the raw events after its watermark), or None (see below)."""
    found = aggregate_groups(reports_db, records_db, req)
    if found is None:
        return None
    groups, total, notes = found
    return assemble(groups, total, req, notes, None, source="reports.db")


def aggregate_groups(reports_db: Path, records_db: Path, req: ReportRequest) -> tuple[dict, Totals, list] | None:
    """The report from reports.db (+ the raw events after its watermark); None when reports.db
    cannot answer this request exactly (FCR with another window or by disposition, a period not on
    15-minute boundaries): the caller then counts from the raw events."""
    if req.params.fcr_same_disposition or req.since % CELL_S or req.until % CELL_S:
        return None
    conn = open_readonly(reports_db)
    try:
        try:
            meta = {k: json.loads(v) for k, v in conn.execute("SELECT key, value FROM meta")}
        except sqlite3.OperationalError:
            return None
        watermark = meta.get("watermark")
        if (watermark is None or meta.get("fcr_window_s") != req.params.fcr_window_days * 86400
                or meta.get("tz") != str(req.tz)):
            return None
        agg_until = min(req.until, watermark)
        groups: dict = {}
        total = Totals()
        parts = []
        wm_local = dt.datetime.fromtimestamp(agg_until, req.tz)
        day_end = dt.datetime.combine(wm_local.date(), dt.time(), tzinfo=req.tz).timestamp()
        precounted = (req.params.sl_threshold_s, req.params.short_abandon_s) == (PRE_T, PRE_S)
        at_midnight = dt.datetime.fromtimestamp(req.since, req.tz).time() == dt.time()
        # the day rollup: whole local days, any grouping but minutes (another T or S: by day only,
        # as the wait histograms are read per day then)
        whole_days = (at_midnight and req.group_by not in MINUTE_GRAINS
                      and (precounted or req.group_by in DAY_GRAINS))
        if whole_days and day_end > req.since:
            parts.append((req.since, day_end, True))
            if agg_until > day_end:
                parts.append((day_end, agg_until, False))
        elif agg_until > req.since:
            parts.append((req.since, agg_until, False))
        for p_since, p_until, by_day in parts:
            g_part, t_part = _query_groups(conn, req, p_since, p_until, by_day)
            for g, t in g_part.items():
                groups[g] = groups[g] + t if g in groups else t
            total = total + t_part
    finally:
        conn.close()
    notes = []
    if req.until > watermark:
        tail_since = max(watermark, req.since)
        src = open_readonly(records_db)
        try:
            events = read_store(src, watermark, req.until + req.params.fcr_window_days * 86400)
            spans = read_call_spans(src, watermark, req.until)
        finally:
            src.close()
        cells, _ = cells_from_events(events, watermark, req.until, req.params, spans, req.n_lines,
                                     agent_state=meta.get("agent_state") or {})
        cells = {k: t for k, t in cells.items() if k.bucket >= tail_since}
        for g, t in rollup(cells, req).items():
            groups[g] = groups[g] + t if g in groups else t
        for t in cells.values():
            total.add(t)
        notes.append("The last hours come straight from the event log (not aggregated yet).")
    return groups, total, notes


LIST_VERBS = ("ENTERQUEUE", "CONNECT", "ABANDON", "CALLBACKREQ", "CALLBACKANSWER", "CALLBACKFAIL")


def lists_from_store(reports_db: Path, records_db: Path, req: ReportRequest) -> dict:
    """Daily agent scorecards (from the cells, day by day) and the abandoned-call list (from the
    queue-entry, answer and abandon events only) for a report read from reports.db."""
    from .report import abandoned_list, scorecards
    cards: dict[CellKey, Totals] = {}
    day = req.since
    while day < req.until:
        nxt = day_group(dt.datetime.fromtimestamp(day, req.tz).date() + dt.timedelta(days=1), "day", req.tz)
        sub = ReportRequest(day, min(nxt, req.until), "agent", req.tz, req.params, req.teams, req.n_lines)
        found = aggregate_groups(reports_db, records_db, sub)
        for agent, t in (found[0] if found else {}).items():
            cards[CellKey(int(day), agent=agent)] = t
        day = nxt
    src = open_readonly(records_db)
    try:
        events = read_store(src, req.since - 86400, req.until + req.params.fcr_window_days * 86400,
                            verbs=LIST_VERBS)
    finally:
        src.close()
    model = EventModel()
    model.feed(events)
    calls = list(model.calls.values())
    counted = sorted((c for c in calls if c.seen_enter and req.since <= c.entered < req.until),
                     key=lambda c: c.entered)
    return {"scorecards": scorecards(cards, req), "abandoned_calls": abandoned_list(counted, req, calls)}





class AggregatorThread:
    """The engine's reports thread: updates reports.db every `period_s` (never on the media thread)."""

    def __init__(self, aggregator: ReportAggregator, period_s: float = 60.0,
                 also: Callable[[float], object] | None = None) -> None:
        self.aggregator = aggregator
        self.period_s = period_s
        self.also = also                  # e.g. DailyReportMail.tick, on this same thread
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="reports-aggregator", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.aggregator.update()
                if self.also is not None:
                    self.also(time.time())
            except Exception:  # noqa: BLE001 - reports must never take the engine down
                log.exception("reports: aggregation failed; will retry")
            self._stop.wait(self.period_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


__all__ = ["AggregatorThread", "ReportAggregator", "report_from_aggregates"]
