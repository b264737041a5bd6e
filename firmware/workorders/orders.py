"""Work orders in `DATA/workorders.db` (SQLite, WAL, FULL sync), written only on the store thread.

Life cycle (every change is a row of `history`, with who and when):

    submitted → reviewed → dispatched (to a person or a department, with a due time)
              → in_progress → resolved → closed

A work order may also be dispatched again (re-assigned) from dispatched or in_progress, and a
resolved one goes back to in_progress when the same customer calls again within the
first-contact-resolution window (`reopen_for_repeat_contact`; `reopened` counts it). It is
**overdue** when it has a due time in the past and is not resolved or closed. After resolution a
**follow-up** task is opened (an agent calls the customer to ask whether they are satisfied).
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from ..sqlite_files import open_checked

STATES = ("submitted", "reviewed", "dispatched", "in_progress", "resolved", "closed")
OPEN_STATES = ("submitted", "reviewed", "dispatched", "in_progress")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "submitted": ("reviewed", "closed"),
    "reviewed": ("dispatched", "closed"),
    "dispatched": ("in_progress", "dispatched", "resolved"),
    "in_progress": ("resolved", "dispatched"),
    "resolved": ("closed", "in_progress"),
    "closed": (),
}
TIME_COLUMN = {"submitted": "submitted_at", "reviewed": "reviewed_at", "dispatched": "dispatched_at",
               "in_progress": "started_at", "resolved": "resolved_at", "closed": "closed_at"}

MIGRATIONS: list[str] = [
    """
    CREATE TABLE work_orders (
        id            INTEGER PRIMARY KEY,
        title         TEXT NOT NULL,
        description   TEXT NOT NULL DEFAULT '',
        state         TEXT NOT NULL,
        contact_id    INTEGER,
        number        TEXT NOT NULL DEFAULT '',
        e164          TEXT,
        call_id       TEXT NOT NULL DEFAULT '',
        recording     TEXT,
        fax           TEXT,
        disposition   TEXT NOT NULL DEFAULT '',
        assignee      TEXT NOT NULL DEFAULT '',
        department    TEXT NOT NULL DEFAULT '',
        due           REAL,
        created_by    TEXT NOT NULL DEFAULT '',
        submitted_at  REAL NOT NULL,
        reviewed_at   REAL,
        dispatched_at REAL,
        started_at    REAL,
        resolved_at   REAL,
        closed_at     REAL,
        reopened      INTEGER NOT NULL DEFAULT 0,
        updated       REAL NOT NULL
    );
    CREATE INDEX work_orders_by_contact ON work_orders (contact_id, state);
    CREATE INDEX work_orders_by_e164 ON work_orders (e164, state);
    CREATE INDEX work_orders_by_state ON work_orders (state, due);
    CREATE INDEX work_orders_by_submitted ON work_orders (submitted_at);
    CREATE TABLE history (
        id         INTEGER PRIMARY KEY,
        order_id   INTEGER NOT NULL REFERENCES work_orders(id) ON DELETE CASCADE,
        at         REAL NOT NULL,
        from_state TEXT,
        to_state   TEXT NOT NULL,
        by         TEXT NOT NULL DEFAULT '',
        note       TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX history_by_order ON history (order_id, at);
    CREATE TABLE followups (
        id        INTEGER PRIMARY KEY,
        order_id  INTEGER NOT NULL REFERENCES work_orders(id) ON DELETE CASCADE,
        created   REAL NOT NULL,
        number    TEXT NOT NULL DEFAULT '',
        kind      TEXT NOT NULL DEFAULT 'agent',
        state     TEXT NOT NULL DEFAULT 'open',
        done_at   REAL,
        done_by   TEXT NOT NULL DEFAULT '',
        satisfied INTEGER,
        note      TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX followups_by_state ON followups (state, created);
    """,
]

TITLE_MAX = 200
TEXT_MAX = 4000
LIST_LIMIT_MAX = 500


class WorkOrderError(ValueError):
    """Bad input or a transition the life cycle does not allow."""


class NotFound(LookupError):
    pass


ID_MAX = (1 << 63) - 1


def _known_id(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= ID_MAX:
        raise NotFound(f"There is no {what} {str(value)[:24]}.")
    return value


def _text(value: Any, what: str, limit: int, *, required: bool = False, multiline: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise WorkOrderError(f"{what} must be text.")
    text = str(value).replace("\r\n", "\n").strip()
    text = "".join(c for c in text if c.isprintable() or (multiline and c == "\n"))
    if required and not text:
        raise WorkOrderError(f"{what} is required; fill it in.")
    if len(text) > limit:
        raise WorkOrderError(f"{what} is longer than {limit} characters; shorten it.")
    return text


def _when(value: Any, what: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise WorkOrderError(f"{what} must be a time (seconds since 1970).")
    if not 0 < float(value) < 4102444800:
        raise WorkOrderError(f"{what} is not a plausible time.")
    return float(value)


class WorkOrderBook:
    def __init__(self, path: Path | str) -> None:
        opened = open_checked(path, MIGRATIONS, "work order")
        self.db: sqlite3.Connection = opened.db
        self.alarm = opened.alarm

    def close(self) -> None:
        self.db.close()

    # ---------------------------------------------------------------- reading
    def _dict(self, r: sqlite3.Row, now: float) -> dict:
        d = dict(r)
        d["overdue"] = is_overdue(d, now)
        return d

    def get(self, order_id: int, now: float | None = None) -> dict:
        now = time.time() if now is None else now
        order_id = _known_id(order_id, "work order")
        r = self.db.execute("SELECT * FROM work_orders WHERE id = ?", (order_id,)).fetchone()
        if r is None:
            raise NotFound(f"There is no work order {order_id}.")
        d = self._dict(r, now)
        d["history"] = [dict(h) for h in self.db.execute(
            "SELECT at, from_state, to_state, by, note FROM history WHERE order_id = ? ORDER BY at, id", (order_id,))]
        d["followups"] = [dict(f) for f in self.db.execute(
            "SELECT * FROM followups WHERE order_id = ? ORDER BY id", (order_id,))]
        return d

    def list(self, *, state: str = "", assignee: str = "", department: str = "", contact_id: int | None = None,
             overdue: bool | None = None, q: str = "", limit: int = 100, now: float | None = None) -> list[dict]:
        now = time.time() if now is None else now
        where, params = ["1"], []  # type: ignore[var-annotated]
        if state:
            if state == "open":
                where.append(f"state IN ({','.join('?' * len(OPEN_STATES))})")
                params += list(OPEN_STATES)
            elif state in STATES:
                where.append("state = ?")
                params.append(state)
            else:
                raise WorkOrderError(f"Unknown state {state[:30]!r}; choose one of open, {', '.join(STATES)}.")
        if assignee:
            where.append("assignee = ?")
            params.append(assignee)
        if department:
            where.append("department = ?")
            params.append(department)
        if contact_id is not None and 0 < contact_id <= ID_MAX:
            where.append("contact_id = ?")
            params.append(contact_id)
        if overdue:
            where.append(f"due IS NOT NULL AND due < ? AND state IN ({','.join('?' * len(OPEN_STATES))})")
            params += [now, *OPEN_STATES]
        if q:
            like = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append("(title LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\' OR number LIKE ? ESCAPE '\\')")
            params += [like, like, like]
        limit = max(1, min(int(limit), LIST_LIMIT_MAX))
        rows = self.db.execute(f"SELECT * FROM work_orders WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
                               [*params, limit]).fetchall()
        return [self._dict(r, now) for r in rows]

    def open_for(self, contact_id: int | None, e164: str | None, now: float) -> list[dict]:
        """Open work orders of a customer (by contact, or by number for an unknown caller)."""
        marks = ",".join("?" * len(OPEN_STATES))
        rows: list[sqlite3.Row] = []
        if contact_id is not None:
            rows += self.db.execute(f"SELECT * FROM work_orders WHERE contact_id = ? AND state IN ({marks}) "
                                    "ORDER BY id DESC LIMIT 20", (contact_id, *OPEN_STATES)).fetchall()
        if e164:
            rows += self.db.execute(f"SELECT * FROM work_orders WHERE e164 = ? AND state IN ({marks}) "
                                    "ORDER BY id DESC LIMIT 20", (e164, *OPEN_STATES)).fetchall()
        unique = {r["id"]: r for r in rows}
        return [{"id": r["id"], "title": r["title"], "state": r["state"], "due": r["due"],
                 "overdue": is_overdue(dict(r), now)} for r in sorted(unique.values(), key=lambda r: -r["id"])]

    def figures_rows(self, since: float, until: float) -> list[dict]:
        """Rows for the work-order figures of a period (firmware.reports): every order with any
        life-cycle time in [since, until)."""
        rows = self.db.execute(
            "SELECT id, state, due, submitted_at, reviewed_at, dispatched_at, resolved_at, closed_at "
            "FROM work_orders WHERE (submitted_at >= ? AND submitted_at < ?) OR (reviewed_at >= ? AND reviewed_at < ?)"
            " OR (dispatched_at >= ? AND dispatched_at < ?) OR (resolved_at >= ? AND resolved_at < ?)",
            (since, until) * 4).fetchall()
        return [dict(r) for r in rows]

    # ---------------------------------------------------------------- writing
    def create(self, *, title: str, description: str = "", contact_id: int | None = None, number: str = "",
               e164: str | None = None, call_id: str = "", recording: str | None = None, fax: str | None = None,
               disposition: str = "", created_by: str = "", now: float | None = None) -> int:
        now = time.time() if now is None else now
        if contact_id is not None and (isinstance(contact_id, bool) or not 0 < contact_id <= ID_MAX):
            raise WorkOrderError("contact_id must be a contact number or null.")
        values = (_text(title, "The title", TITLE_MAX, required=True),
                  _text(description, "The description", TEXT_MAX, multiline=True), contact_id,
                  _text(number, "The number", 64), e164, _text(call_id, "The call id", 80),
                  _text(recording, "The recording", 200) or None, _text(fax, "The fax", 200) or None,
                  _text(disposition, "The disposition", 40), _text(created_by, "The author", 80), now, now)
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            cur = self.db.execute(
                "INSERT INTO work_orders (title, description, state, contact_id, number, e164, call_id, recording, fax, "
                "disposition, created_by, submitted_at, updated) VALUES (?, ?, 'submitted', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values)
            oid = int(cur.lastrowid or 0)
            self.db.execute("INSERT INTO history (order_id, at, from_state, to_state, by, note) VALUES (?, ?, NULL, "
                            "'submitted', ?, '')", (oid, now, values[9]))
        return oid

    def update(self, order_id: int, changes: dict[str, Any], now: float | None = None) -> dict:
        """Change the title, description, recording, fax or link to a contact (not the state:
        that is `transition`)."""
        now = time.time() if now is None else now
        self.get(order_id, now)
        allowed = {"title": TITLE_MAX, "description": TEXT_MAX, "recording": 200, "fax": 200}
        sets, params = [], []
        for k, v in changes.items():
            if k in allowed:
                text = _text(v, f"The {k}", allowed[k], required=(k == "title"), multiline=(k == "description"))
                sets.append(f"{k} = ?")
                params.append(text if k in ("title", "description") else (text or None))
            elif k == "contact_id":
                if v is not None and (not isinstance(v, int) or isinstance(v, bool) or not 0 < v <= ID_MAX):
                    raise WorkOrderError("contact_id must be a contact number or null.")
                sets.append("contact_id = ?")
                params.append(v)
            else:
                raise WorkOrderError(f"{k[:30]!r} cannot be changed here (states change with a transition).")
        if sets:
            with self.db:
                self.db.execute("BEGIN IMMEDIATE")
                self.db.execute(f"UPDATE work_orders SET {', '.join(sets)}, updated = ? WHERE id = ?",
                                [*params, now, order_id])
        return self.get(order_id, now)

    def transition(self, order_id: int, to: str, *, by: str = "", note: str = "", assignee: str = "",
                   department: str = "", due: float | None = None, now: float | None = None) -> dict:
        now = time.time() if now is None else now
        order = self.get(order_id, now)
        frm = order["state"]
        if to not in STATES:
            raise WorkOrderError(f"Unknown state {str(to)[:30]!r}; choose one of {', '.join(STATES)}.")
        if to not in TRANSITIONS[frm]:
            allowed = ", ".join(TRANSITIONS[frm]) or "nothing (it is closed)"
            raise WorkOrderError(f"A {frm.replace('_', ' ')} work order cannot go to {to.replace('_', ' ')}; "
                                 f"it can go to {allowed}.")
        sets = ["state = ?", f"{TIME_COLUMN[to]} = ?", "updated = ?"]
        params: list[Any] = [to, now, now]
        if to == "dispatched":
            assignee = _text(assignee, "The person", 80)
            department = _text(department, "The department", 80)
            if not assignee and not department:
                raise WorkOrderError("Dispatch to a person or a department: fill in one of them.")
            due_at = _when(due, "The due time")
            if due_at is None:
                raise WorkOrderError("Dispatching needs a due time; set one.")
            sets += ["assignee = ?", "department = ?", "due = ?"]
            params += [assignee, department, due_at]
        if to == "in_progress" and frm == "resolved":
            sets += ["reopened = reopened + 1", "resolved_at = NULL"]
        note = _text(note, "The note", TEXT_MAX, multiline=True)
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(f"UPDATE work_orders SET {', '.join(sets)} WHERE id = ?", [*params, order_id])
            self.db.execute("INSERT INTO history (order_id, at, from_state, to_state, by, note) VALUES (?, ?, ?, ?, ?, ?)",
                            (order_id, now, frm, to, _text(by, "Who", 80), note))
            if to == "resolved":
                self.db.execute("INSERT INTO followups (order_id, created, number, kind) VALUES (?, ?, ?, 'agent')",
                                (order_id, now, order["number"]))
            if to == "in_progress" and frm == "resolved":
                self.db.execute("UPDATE followups SET state = 'cancelled' WHERE order_id = ? AND state = 'open'",
                                (order_id,))
        return self.get(order_id, now)

    def reopen_for_repeat_contact(self, contact_id: int | None, e164: str | None, window_s: float,
                                  now: float, by: str = "", call_id: str = "", exclude: int | None = None) -> list[int]:
        """Resolved work orders of this customer whose resolution is less than `window_s` old go back
        to in progress (the customer called again: the problem was not solved). Orders of the same
        call (`call_id`) and `exclude` (the one this wrap-up is about) are left alone. Returns the ids."""
        if contact_id is None and not e164:
            return []
        rows = self.db.execute(
            "SELECT id, call_id FROM work_orders WHERE state = 'resolved' AND resolved_at >= ? AND resolved_at <= ? "
            "AND ((contact_id IS NOT NULL AND contact_id = ?) OR (e164 IS NOT NULL AND e164 = ?))",
            (now - window_s, now, contact_id, e164)).fetchall()
        ids = [int(r[0]) for r in rows if int(r[0]) != exclude and not (call_id and r[1] == call_id)]
        for oid in ids:
            self.transition(oid, "in_progress", by=by or "system",
                            note="Reopened: the customer called again within the first-contact-resolution window.",
                            now=now)
        return ids

    def followups(self, state: str = "open", limit: int = 100) -> list[dict]:
        rows = self.db.execute("SELECT f.*, w.title, w.contact_id FROM followups f JOIN work_orders w ON w.id = f.order_id "
                               "WHERE f.state = ? ORDER BY f.created LIMIT ?", (state, max(1, min(limit, 500)))).fetchall()
        return [dict(r) for r in rows]

    def complete_followup(self, followup_id: int, *, by: str, satisfied: bool | None, note: str,
                          now: float | None = None) -> dict:
        now = time.time() if now is None else now
        followup_id = _known_id(followup_id, "follow-up")
        r = self.db.execute("SELECT * FROM followups WHERE id = ?", (followup_id,)).fetchone()
        if r is None:
            raise NotFound(f"There is no follow-up {followup_id}.")
        if r["state"] != "open":
            raise WorkOrderError(f"Follow-up {followup_id} is already {r['state']}.")
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("UPDATE followups SET state = 'done', done_at = ?, done_by = ?, satisfied = ?, note = ? "
                            "WHERE id = ?", (now, _text(by, "Who", 80), None if satisfied is None else int(satisfied),
                                             _text(note, "The note", TEXT_MAX, multiline=True), followup_id))
        return dict(self.db.execute("SELECT * FROM followups WHERE id = ?", (followup_id,)).fetchone())


def is_overdue(order: dict, now: float) -> bool:
    due = order.get("due")
    return due is not None and due < now and order.get("state") in OPEN_STATES


class WorkOrderReader:
    """Open work orders for the screen pop, read on its own read-only connection (the engine API's
    reader thread), never waiting for the store thread's writes."""

    def __init__(self, path: Path | str) -> None:
        from ..sqlite_files import open_read_only
        self.db = open_read_only(path)

    def close(self) -> None:
        self.db.close()

    open_for = WorkOrderBook.open_for
