"""The knowledge base: standard answers and articles agents look up during a call, in
`DATA/knowledge.db` (SQLite, WAL, FULL sync), written only on the store thread.

An article has a title, a body (plain text, shown escaped), tags and the disposition codes it
answers; `search` ranks title matches above body matches, and a disposition code narrows (and
orders) the list to the articles suggested for it."""
from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from ..sqlite_files import open_checked

MIGRATIONS: list[str] = [
    """
    CREATE TABLE articles (
        id           INTEGER PRIMARY KEY,
        title        TEXT NOT NULL,
        body         TEXT NOT NULL DEFAULT '',
        tags         TEXT NOT NULL DEFAULT '[]',
        dispositions TEXT NOT NULL DEFAULT '[]',
        updated      REAL NOT NULL,
        updated_by   TEXT NOT NULL DEFAULT ''
    );
    """,
]
TITLE_MAX = 200
BODY_MAX = 20000
SEARCH_LIMIT = 50


class ArticleError(ValueError):
    pass


class NotFound(LookupError):
    pass


ID_MAX = (1 << 63) - 1


def _known_id(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= ID_MAX:
        raise NotFound(f"There is no article {str(value)[:24]}.")
    return value


def _text(value: Any, what: str, limit: int, *, required: bool = False, multiline: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ArticleError(f"{what} must be text.")
    text = value.replace("\r\n", "\n").strip()
    text = "".join(c for c in text if c.isprintable() or (multiline and c in "\n\t"))
    if required and not text:
        raise ArticleError(f"{what} is required; fill it in.")
    if len(text) > limit:
        raise ArticleError(f"{what} is longer than {limit} characters; shorten it.")
    return text


def _words(value: Any, what: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or len(value) > 30:
        raise ArticleError(f"{what} must be a list of at most 30 words.")
    return list(dict.fromkeys(t for t in (_text(v, what, 40) for v in value) if t))


class KnowledgeBase:
    def __init__(self, path: Path | str) -> None:
        opened = open_checked(path, MIGRATIONS, "knowledge base")
        self.db: sqlite3.Connection = opened.db
        self.alarm = opened.alarm

    def close(self) -> None:
        self.db.close()

    @staticmethod
    def _dict(r: sqlite3.Row) -> dict:
        return {"id": r["id"], "title": r["title"], "body": r["body"], "tags": json.loads(r["tags"]),
                "dispositions": json.loads(r["dispositions"]), "updated": r["updated"], "updated_by": r["updated_by"]}

    def get(self, article_id: int) -> dict:
        article_id = _known_id(article_id)
        r = self.db.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        if r is None:
            raise NotFound(f"There is no article {article_id}.")
        return self._dict(r)

    def save(self, article: dict[str, Any], by: str = "", now: float | None = None) -> int:
        if not isinstance(article, dict):
            raise ArticleError("An article is an object {title, body, tags, dispositions}.")
        unknown = set(article) - {"id", "title", "body", "tags", "dispositions"}
        if unknown:
            raise ArticleError(f"Unknown article field(s): {', '.join(sorted(unknown))[:100]}.")
        values = (_text(article.get("title"), "The title", TITLE_MAX, required=True),
                  _text(article.get("body"), "The text", BODY_MAX, multiline=True),
                  json.dumps(_words(article.get("tags"), "Tags")),
                  json.dumps([d.lower() for d in _words(article.get("dispositions"), "Dispositions")]),
                  time.time() if now is None else now, _text(by, "Who", 80))
        aid = article.get("id")
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if aid is None:
                cur = self.db.execute("INSERT INTO articles (title, body, tags, dispositions, updated, updated_by) "
                                      "VALUES (?, ?, ?, ?, ?, ?)", values)
                return int(cur.lastrowid or 0)
            if not isinstance(aid, int) or isinstance(aid, bool):
                raise ArticleError("The article id must be a whole number (leave it out to add one).")
            _known_id(aid)
            cur = self.db.execute("UPDATE articles SET title=?, body=?, tags=?, dispositions=?, updated=?, updated_by=? "
                                  "WHERE id = ?", (*values, aid))
            if cur.rowcount == 0:
                raise NotFound(f"There is no article {aid}.")
            return aid

    def delete(self, article_id: int) -> None:
        article_id = _known_id(article_id)
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            if self.db.execute("DELETE FROM articles WHERE id = ?", (article_id,)).rowcount == 0:
                raise NotFound(f"There is no article {article_id}.")

    def search(self, q: str, disposition: str = "", suggested: list[int] | None = None,
               limit: int = SEARCH_LIMIT) -> list[dict]:
        """Articles matching every word of `q` (title, text, tags), title matches first. With a
        disposition: only the articles for it (tagged with the code, or listed by the owner in
        `suggested`), the owner's list first."""
        q = _text(q, "The search", 100)
        words = [w for w in q.lower().split() if w][:8]
        params: list[Any] = []
        where = []
        for w in words:
            like = "%" + w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append("(lower(title) LIKE ? ESCAPE '\\' OR lower(body) LIKE ? ESCAPE '\\' OR lower(tags) LIKE ? ESCAPE '\\')")
            params += [like, like, like]
        rows = self.db.execute(f"SELECT * FROM articles WHERE {' AND '.join(where) or '1'} ORDER BY title LIMIT 1000",
                               params).fetchall()
        arts = [self._dict(r) for r in rows]
        if disposition:
            code = disposition.lower()
            listed = suggested or []
            arts = [a for a in arts if code in a["dispositions"] or a["id"] in listed]
            arts.sort(key=lambda a: (listed.index(a["id"]) if a["id"] in listed else len(listed), a["title"].lower()))
        elif words:
            arts.sort(key=lambda a: (not all(w in a["title"].lower() for w in words), a["title"].lower()))
        return arts[:max(1, min(limit, SEARCH_LIMIT))]
