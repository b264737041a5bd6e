"""The customer book: contacts (several numbers each), their past interactions (one per call
wrap-up) and the owner's disposition codes, in `DATA/customers.db` (SQLite, WAL, FULL sync).

One writer: every method that writes is called from an `on="store"` engine API command, i.e. on
the engine's single store thread. The screen pop is a read on the same connection (the store
thread is where it runs too); its queries are indexed lookups (numbers by E.164 and by last
digits, interactions by contact and time), so it costs a few milliseconds at 10,000 customers and
100,000 interactions (bench/screen_pop.py measures it).
"""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from ..caller_numbers import CallerNumber, normalise
from ..sqlite_files import open_checked

MIGRATIONS: list[str] = [
    # 1: contacts, their numbers, interactions, disposition codes
    """
    CREATE TABLE contacts (
        id       INTEGER PRIMARY KEY,
        name     TEXT NOT NULL,
        company  TEXT NOT NULL DEFAULT '',
        address  TEXT NOT NULL DEFAULT '',
        notes    TEXT NOT NULL DEFAULT '',
        tags     TEXT NOT NULL DEFAULT '[]',
        created  REAL NOT NULL,
        updated  REAL NOT NULL
    );
    CREATE INDEX contacts_by_name ON contacts (name COLLATE NOCASE);
    CREATE TABLE contact_numbers (
        contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
        position   INTEGER NOT NULL,
        raw        TEXT NOT NULL,
        e164       TEXT,
        tail       TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX numbers_by_contact ON contact_numbers (contact_id);
    CREATE INDEX numbers_by_e164 ON contact_numbers (e164);
    CREATE INDEX numbers_by_tail ON contact_numbers (tail);
    CREATE TABLE interactions (
        id            INTEGER PRIMARY KEY,
        at            REAL NOT NULL,
        call_id       TEXT NOT NULL DEFAULT '',
        number_raw    TEXT NOT NULL DEFAULT '',
        e164          TEXT,
        tail          TEXT NOT NULL DEFAULT '',
        contact_id    INTEGER,
        agent         TEXT NOT NULL DEFAULT '',
        queue         TEXT NOT NULL DEFAULT '',
        disposition   TEXT NOT NULL DEFAULT '',
        notes         TEXT NOT NULL DEFAULT '',
        resolved      INTEGER NOT NULL DEFAULT 0,
        recording     TEXT,
        work_order_id INTEGER
    );
    CREATE INDEX interactions_by_contact ON interactions (contact_id, at DESC);
    CREATE INDEX interactions_by_e164 ON interactions (e164, at DESC);
    CREATE INDEX interactions_by_at ON interactions (at);
    CREATE TABLE dispositions (
        code     TEXT PRIMARY KEY,
        label    TEXT NOT NULL,
        kb       TEXT NOT NULL DEFAULT '[]',
        position INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO dispositions (code, label, position) VALUES
        ('consultation', 'Consultation', 1), ('complaint', 'Complaint', 2),
        ('suggestion', 'Suggestion', 3), ('order', 'Order', 4);
    """,
    # 2: CSV imports staged in chunks: rows of an import are invisible until its job is done
    """
    ALTER TABLE contacts ADD COLUMN import_job TEXT;
    CREATE INDEX contacts_by_import ON contacts (import_job) WHERE import_job IS NOT NULL;
    CREATE TABLE import_jobs (
        job  TEXT PRIMARY KEY,
        done INTEGER NOT NULL DEFAULT 0,
        at   REAL NOT NULL
    );
    """,
]
# A contact is visible unless it belongs to a CSV import still being written.
VISIBLE = "(c.import_job IS NULL OR c.import_job IN (SELECT job FROM import_jobs WHERE done = 1))"

NAME_MAX = 200
TEXT_MAX = 2000
NOTES_MAX = 4000
TAG_MAX = 40
TAGS_MAX = 20
NUMBERS_MAX = 10
SEARCH_LIMIT_MAX = 200
POP_INTERACTIONS = 5
CODE_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


class CustomerError(ValueError):
    """Bad input for the customer book: the message says what and what to do."""


class NotFound(LookupError):
    pass


ID_MAX = (1 << 63) - 1


def _known_id(value: int, what: str = "contact") -> int:
    """An id as SQLite can hold it; anything else cannot exist."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= ID_MAX:
        raise NotFound(f"There is no {what} {str(value)[:24]}.")
    return value


def _clean(value: Any, what: str, limit: int, *, required: bool = False, multiline: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise CustomerError(f"{what} must be text.")
    text = str(value).replace("\r\n", "\n").strip()
    if not text.isprintable():
        text = "".join(c for c in text if c.isprintable() or (multiline and c == "\n"))
    if required and not text:
        raise CustomerError(f"{what} is required; fill it in.")
    if len(text) > limit:
        raise CustomerError(f"{what} is longer than {limit} characters; shorten it.")
    return text


def clean_tags(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [t for t in value.replace(";", ",").split(",")]
    if not isinstance(value, list):
        raise CustomerError("Tags must be a list (or text separated by commas).")
    tags: list[str] = []
    for t in value:
        t = _clean(t, "A tag", TAG_MAX)
        if t and t not in tags:
            tags.append(t)
    if len(tags) > TAGS_MAX:
        raise CustomerError(f"A contact has at most {TAGS_MAX} tags; remove some.")
    return tags


def clean_numbers(value: Any, region: str) -> list[CallerNumber]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [v for v in value.replace(";", ",").split(",")]
    if not isinstance(value, list):
        raise CustomerError("Numbers must be a list (or text separated by commas).")
    out: list[CallerNumber] = []
    for v in value:
        if not isinstance(v, (str, int)) or isinstance(v, bool):
            raise CustomerError("Each number must be text.")
        text = str(v).strip()
        if not text:
            continue
        n = normalise(text, region)
        if not n.e164 and len(n.tail) < 4:
            raise CustomerError(f"The number {text[:30]!r} is not a phone number (too few digits); correct it.")
        if all(o.raw != n.raw for o in out):
            out.append(n)
    if len(out) > NUMBERS_MAX:
        raise CustomerError(f"A contact has at most {NUMBERS_MAX} numbers.")
    return out


class CustomerBook:
    def __init__(self, path: Path | str) -> None:
        opened = open_checked(path, MIGRATIONS, "customer book")
        self.db: sqlite3.Connection = opened.db
        self.alarm = opened.alarm
        self.path = Path(path)
        if opened.behind:                 # a release being tried: the clean-up waits for a start after the
            return                        # commit (an interrupted import stays invisible until then)
        with self.db:                     # an import cut off by a restart is dropped whole
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM contacts WHERE import_job IS NOT NULL AND import_job NOT IN "
                            "(SELECT job FROM import_jobs WHERE done = 1)")
            self.db.execute("DELETE FROM import_jobs WHERE done = 0")

    def close(self) -> None:
        self.db.close()

    # ---------------------------------------------------------------- contacts
    @staticmethod
    def validate(contact: dict[str, Any], region: str) -> dict[str, Any]:
        """The contact as it would be stored (raises CustomerError on bad input; no database
        access, so the CSV check worker calls it without a book)."""
        if not isinstance(contact, dict):
            raise CustomerError("A contact must be an object with a name.")
        unknown = set(contact) - {"id", "name", "company", "tags", "numbers", "address", "notes"}
        if unknown:
            raise CustomerError(f"Unknown contact field(s): {', '.join(sorted(unknown))[:100]}.")
        return {"name": _clean(contact.get("name"), "The name", NAME_MAX, required=True),
                "company": _clean(contact.get("company"), "The company", NAME_MAX),
                "address": _clean(contact.get("address"), "The address", TEXT_MAX, multiline=True),
                "notes": _clean(contact.get("notes"), "The notes", NOTES_MAX, multiline=True),
                "tags": clean_tags(contact.get("tags")),
                "numbers": clean_numbers(contact.get("numbers"), region)}

    def _write(self, cid: int | None, c: dict[str, Any], now: float) -> int:
        tags = json.dumps(c["tags"], ensure_ascii=False)
        if cid is None:
            cur = self.db.execute("INSERT INTO contacts (name, company, address, notes, tags, created, updated) "
                                  "VALUES (?, ?, ?, ?, ?, ?, ?)",
                                  (c["name"], c["company"], c["address"], c["notes"], tags, now, now))
            cid = int(cur.lastrowid or 0)
        else:
            self.db.execute("UPDATE contacts SET name=?, company=?, address=?, notes=?, tags=?, updated=? WHERE id=?",
                            (c["name"], c["company"], c["address"], c["notes"], tags, now, cid))
            self.db.execute("DELETE FROM contact_numbers WHERE contact_id = ?", (cid,))
        self.db.executemany("INSERT INTO contact_numbers (contact_id, position, raw, e164, tail) VALUES (?, ?, ?, ?, ?)",
                            [(cid, i, n.raw, n.e164, n.tail) for i, n in enumerate(c["numbers"])])
        return cid

    def save(self, contact: dict[str, Any], region: str, now: float | None = None) -> int:
        c = self.validate(contact, region)
        cid = contact.get("id")
        if cid is not None:
            if not isinstance(cid, int) or isinstance(cid, bool):
                raise CustomerError("The contact id must be a whole number (leave it out to add a contact).")
            _known_id(cid)
            if self.db.execute(f"SELECT 1 FROM contacts c WHERE id = ? AND {VISIBLE}", (cid,)).fetchone() is None:
                raise NotFound(f"There is no contact {cid}; it may have been merged or deleted.")
        now = time.time() if now is None else now
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            return self._write(cid, c, now)

    def save_many(self, contacts: list[dict[str, Any]], now: float | None = None) -> int:
        """Store already validated contacts (`validate`) in one transaction: all or nothing."""
        job = "direct"
        self.stage(job, contacts, now)
        self.publish_import(job)
        return len(contacts)

    def stage(self, job: str, contacts: list[dict[str, Any]], now: float | None = None) -> None:
        """Write one chunk of a CSV import's validated contacts, invisible until
        `publish_import(job)`: a big import is written in short transactions (the screen pop goes
        on between them) and still appears all at once or, cut off by a restart, not at all."""
        now = time.time() if now is None else now
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("INSERT OR IGNORE INTO import_jobs (job, done, at) VALUES (?, 0, ?)", (job, now))
            first = int(self.db.execute("SELECT COALESCE(MAX(id), 0) FROM contacts").fetchone()[0]) + 1
            self.db.executemany(
                "INSERT INTO contacts (id, name, company, address, notes, tags, created, updated, import_job) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                ((first + i, c["name"], c["company"], c["address"], c["notes"],
                  json.dumps(c["tags"], ensure_ascii=False), now, now, job) for i, c in enumerate(contacts)))
            self.db.executemany(
                "INSERT INTO contact_numbers (contact_id, position, raw, e164, tail) VALUES (?, ?, ?, ?, ?)",
                ((first + i, j, n.raw, n.e164, n.tail) for i, c in enumerate(contacts)
                 for j, n in enumerate(c["numbers"])))

    def publish_import(self, job: str) -> None:
        """Make every contact staged under `job` visible, in one short transaction."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("UPDATE import_jobs SET done = 1 WHERE job = ?", (job,))

    def delete(self, cid: int) -> None:
        cid = _known_id(cid)
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if self.db.execute(f"DELETE FROM contacts AS c WHERE id = ? AND {VISIBLE}", (cid,)).rowcount == 0:
                raise NotFound(f"There is no contact {cid}.")
            self.db.execute("UPDATE interactions SET contact_id = NULL WHERE contact_id = ?", (cid,))

    def _numbers(self, cids: list[int]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {c: [] for c in cids}
        if not cids:
            return out
        marks = ",".join("?" * len(cids))
        for r in self.db.execute(f"SELECT contact_id, raw FROM contact_numbers WHERE contact_id IN ({marks}) "
                                 "ORDER BY contact_id, position", cids):
            out[r["contact_id"]].append(r["raw"])
        return out

    def _as_dicts(self, rows: list[sqlite3.Row]) -> list[dict]:
        nums = self._numbers([r["id"] for r in rows])
        return [{"id": r["id"], "name": r["name"], "company": r["company"], "tags": json.loads(r["tags"]),
                 "numbers": nums[r["id"]], "address": r["address"], "notes": r["notes"],
                 "updated": r["updated"]} for r in rows]

    def get(self, cid: int) -> dict:
        cid = _known_id(cid)
        rows = self.db.execute(f"SELECT * FROM contacts c WHERE id = ? AND {VISIBLE}", (cid,)).fetchall()
        if not rows:
            raise NotFound(f"There is no contact {cid}; it may have been merged or deleted.")
        return self._as_dicts(rows)[0]

    def search(self, q: str, limit: int, region: str) -> list[dict]:
        """Contacts whose name, company, tags or notes contain `q`, or one of whose numbers matches
        it (E.164 or last digits); by name."""
        q = _clean(q, "The search", 100)
        limit = max(1, min(int(limit), SEARCH_LIMIT_MAX))
        if not q:
            rows = self.db.execute(f"SELECT * FROM contacts c WHERE {VISIBLE} ORDER BY name COLLATE NOCASE, id LIMIT ?",
                                   (limit,)).fetchall()
            return self._as_dicts(rows)
        like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        ids: list[int] = []
        n = normalise(q, region)
        if n.e164 or len(n.tail) >= 4:
            ids += [r[0] for r in self.db.execute(
                f"SELECT DISTINCT n.contact_id FROM contact_numbers n JOIN contacts c ON c.id = n.contact_id "
                f"WHERE (n.e164 = ? OR n.tail = ?) AND {VISIBLE} LIMIT ?",
                (n.e164, n.tail, limit))]
        ids += [r[0] for r in self.db.execute(
            f"SELECT id FROM contacts c WHERE (name LIKE ? ESCAPE '\\' OR company LIKE ? ESCAPE '\\' "
            f"OR tags LIKE ? ESCAPE '\\' OR notes LIKE ? ESCAPE '\\') AND {VISIBLE} ORDER BY name COLLATE NOCASE LIMIT ?",
            (like, like, like, like, limit))]
        ids = list(dict.fromkeys(ids))[:limit]
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(f"SELECT * FROM contacts WHERE id IN ({marks}) ORDER BY name COLLATE NOCASE, id",
                               ids).fetchall()
        return self._as_dicts(rows)

    def all_contacts(self, batch: int = 1000):
        """Every contact, by id, in batches (CSV export)."""
        last = 0
        while True:
            rows = self.db.execute(f"SELECT * FROM contacts c WHERE id > ? AND {VISIBLE} ORDER BY id LIMIT ?",
                                   (last, batch)).fetchall()
            if not rows:
                return
            yield from self._as_dicts(rows)
            last = rows[-1]["id"]

    def count(self) -> int:
        return int(self.db.execute(f"SELECT COUNT(*) FROM contacts c WHERE {VISIBLE}").fetchone()[0])

    def merge(self, keep: int, drop: int, now: float | None = None) -> dict:
        """Fold contact `drop` into `keep`: numbers and tags joined, notes appended, company and
        address kept unless empty; `drop`'s interactions move to `keep`; `drop` is removed."""
        if keep == drop:
            raise CustomerError("Choose two different contacts to merge.")
        a, b = self.get(keep), self.get(drop)
        numbers = list(dict.fromkeys(a["numbers"] + b["numbers"]))[:NUMBERS_MAX]
        tags = list(dict.fromkeys(a["tags"] + b["tags"]))[:TAGS_MAX]
        notes = "\n".join(x for x in (a["notes"], b["notes"]) if x)[:NOTES_MAX]
        now = time.time() if now is None else now
        rows = self.db.execute("SELECT raw, e164, tail FROM contact_numbers WHERE contact_id IN (?, ?) "
                               "ORDER BY contact_id = ? DESC, position", (keep, drop, keep)).fetchall()
        seen: dict[str, CallerNumber] = {}
        for r in rows:
            seen.setdefault(r["raw"], CallerNumber(r["raw"], r["e164"], r["tail"]))
        merged = {"name": a["name"], "company": a["company"] or b["company"],
                  "address": a["address"] or b["address"], "notes": notes, "tags": tags,
                  "numbers": [seen[n] for n in numbers]}
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self._write(keep, merged, now)
            self.db.execute("UPDATE interactions SET contact_id = ? WHERE contact_id = ?", (keep, drop))
            self.db.execute("DELETE FROM contacts WHERE id = ?", (drop,))
        return self.get(keep)

    # ---------------------------------------------------------------- lookup (screen pop)
    def match(self, n: CallerNumber) -> tuple[int | None, str | None]:
        """(contact id, how) for a caller number: exact E.164 first, else the last digits."""
        if n.e164:
            r = self.db.execute(f"SELECT n.contact_id FROM contact_numbers n JOIN contacts c ON c.id = n.contact_id "
                                f"WHERE n.e164 = ? AND {VISIBLE} LIMIT 1", (n.e164,)).fetchone()
            if r is not None:
                return int(r[0]), "e164"
        if len(n.tail) >= 4:
            r = self.db.execute(f"SELECT n.contact_id FROM contact_numbers n JOIN contacts c ON c.id = n.contact_id "
                                f"WHERE n.tail = ? AND {VISIBLE} ORDER BY c.updated DESC LIMIT 1", (n.tail,)).fetchone()
            if r is not None:
                return int(r[0]), "last_digits"
        return None, None

    def recent_interactions(self, contact_id: int | None, n: CallerNumber, limit: int = POP_INTERACTIONS) -> list[dict]:
        rows: list[sqlite3.Row] = []
        if contact_id is not None:
            rows += self.db.execute("SELECT * FROM interactions WHERE contact_id = ? ORDER BY at DESC LIMIT ?",
                                    (contact_id, limit)).fetchall()
        if n.e164:
            rows += self.db.execute("SELECT * FROM interactions WHERE e164 = ? ORDER BY at DESC LIMIT ?",
                                    (n.e164, limit)).fetchall()
        unique = {r["id"]: r for r in rows}
        ordered = sorted(unique.values(), key=lambda r: (r["at"], r["id"]), reverse=True)[:limit]
        return [{"id": r["id"], "at": r["at"], "agent": r["agent"], "queue": r["queue"],
                 "disposition": r["disposition"], "notes": r["notes"], "resolved": bool(r["resolved"]),
                 "recording": r["recording"], "call_id": r["call_id"], "work_order_id": r["work_order_id"]}
                for r in ordered]

    # ---------------------------------------------------------------- interactions
    def contact_interactions(self, cid: int, limit: int) -> list[dict]:
        rows = self.db.execute("SELECT * FROM interactions WHERE contact_id = ? ORDER BY at DESC, id DESC LIMIT ?",
                               (cid, limit)).fetchall()
        return [{"id": r["id"], "at": r["at"], "agent": r["agent"], "queue": r["queue"],
                 "disposition": r["disposition"], "notes": r["notes"], "resolved": bool(r["resolved"]),
                 "recording": r["recording"], "call_id": r["call_id"], "work_order_id": r["work_order_id"]}
                for r in rows]

    def record_interaction(self, *, at: float, call_id: str, number: CallerNumber, agent: str, queue: str,
                           disposition: str, notes: str, resolved: bool, recording: str | None,
                           work_order_id: int | None) -> tuple[int, int | None]:
        """Store one wrap-up; returns (interaction id, the contact it was matched to)."""
        disposition = _clean(disposition, "The disposition", 40)
        if disposition and self.db.execute("SELECT 1 FROM dispositions WHERE code = ?", (disposition,)).fetchone() is None:
            raise CustomerError(f"Unknown disposition code {disposition!r}; choose one the owner defined.")
        contact_id, _how = self.match(number)
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            cur = self.db.execute(
                "INSERT INTO interactions (at, call_id, number_raw, e164, tail, contact_id, agent, queue, disposition, "
                "notes, resolved, recording, work_order_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (at, _clean(call_id, "The call id", 80), number.raw, number.e164, number.tail, contact_id,
                 _clean(agent, "The agent", 80), _clean(queue, "The queue", 80), disposition,
                 _clean(notes, "The notes", NOTES_MAX, multiline=True), 1 if resolved else 0,
                 _clean(recording, "The recording", 200) or None, work_order_id))
        return int(cur.lastrowid or 0), contact_id

    def interactions(self, *, since: float, until: float, limit: int = 1000) -> list[dict]:
        rows = self.db.execute("SELECT * FROM interactions WHERE at >= ? AND at < ? ORDER BY at LIMIT ?",
                               (since, until, limit)).fetchall()
        return [dict(r) for r in rows]

    # ---------------------------------------------------------------- dispositions
    def dispositions(self) -> list[dict]:
        return [{"code": r["code"], "label": r["label"], "kb": json.loads(r["kb"])}
                for r in self.db.execute("SELECT * FROM dispositions ORDER BY position, code")]

    def save_dispositions(self, codes: list[dict[str, Any]]) -> list[dict]:
        """Replace the owner's list of disposition codes (the order given is the order shown)."""
        if not isinstance(codes, list) or not codes:
            raise CustomerError("Give at least one disposition code.")
        if len(codes) > 100:
            raise CustomerError("At most 100 disposition codes.")
        clean: list[tuple[str, str, str, int]] = []
        for i, d in enumerate(codes):
            if not isinstance(d, dict):
                raise CustomerError("Each disposition is an object {code, label, kb}.")
            code = _clean(d.get("code"), "A disposition code", 40, required=True).lower()
            if not set(code) <= CODE_CHARS:
                raise CustomerError(f"The code {code!r} may use only a-z, 0-9, '-' and '_'.")
            label = _clean(d.get("label") or code, "A disposition label", 80, required=True)
            kb = d.get("kb") or []
            if not isinstance(kb, list) or not all(isinstance(k, int) and not isinstance(k, bool) for k in kb):
                raise CustomerError(f"The articles of {code!r} must be a list of article numbers.")
            if any(c[0] == code for c in clean):
                raise CustomerError(f"The code {code!r} is listed twice.")
            clean.append((code, label, json.dumps(kb[:20]), i))
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM dispositions")
            self.db.executemany("INSERT INTO dispositions (code, label, kb, position) VALUES (?, ?, ?, ?)", clean)
        return self.dispositions()


class CustomerReader:
    """The screen pop's lookups on their own read-only connection: `customers.pop` runs on the
    engine API's reader thread and never waits for the store thread (a CSV import writing its
    chunks, a wrap-up). Same queries as `CustomerBook`; rows of an import still being written stay
    invisible (VISIBLE)."""

    def __init__(self, path: Path | str) -> None:
        from ..sqlite_files import open_read_only
        self.db = open_read_only(path)

    def close(self) -> None:
        self.db.close()

    match = CustomerBook.match
    recent_interactions = CustomerBook.recent_interactions
    get = CustomerBook.get
    _numbers = CustomerBook._numbers
    _as_dicts = CustomerBook._as_dicts
