"""Engine API commands of the knowledge base (store thread: one writer)."""
from __future__ import annotations

from typing import Any

from ..api import ApiContext, ApiError, command
from ..customers import book_for
from . import knowledge_for
from .articles import ArticleError, NotFound


def _refused(exc: Exception) -> ApiError:
    return ApiError("not_found" if isinstance(exc, NotFound) else "bad_request", str(exc))


@command("kb.search")
def kb_search(ctx: ApiContext, q: str = "", disposition: str = "", limit: int = 20) -> list[dict]:
    """Articles matching every word of `q` (title first). With `disposition`: the articles
    suggested for that code (the owner's list in dispositions.save first, then articles tagged
    with it). Each: {id, title, body, tags, dispositions, updated, updated_by}."""
    suggested: list[int] = []
    if disposition:
        code = disposition.strip().lower()[:40]
        for d in book_for(ctx.data_dir).dispositions():
            if d["code"] == code:
                suggested = list(d["kb"])
    try:
        return knowledge_for(ctx.data_dir).search(q, disposition.strip()[:40], suggested, limit)
    except ArticleError as e:
        raise _refused(e) from None


@command("kb.get")
def kb_get(ctx: ApiContext, id: int) -> dict:
    """Article `id`."""
    try:
        return knowledge_for(ctx.data_dir).get(id)
    except NotFound as e:
        raise _refused(e) from None


@command("kb.save")
def kb_save(ctx: ApiContext, article: dict[str, Any], by: str = "") -> dict:
    """Add an article (no `id`) or replace article `id`: {title, body, tags, dispositions}.
    Returns {"id"}."""
    try:
        return {"id": knowledge_for(ctx.data_dir).save(article, by)}
    except (ArticleError, NotFound) as e:
        raise _refused(e) from None


@command("kb.delete")
def kb_delete(ctx: ApiContext, id: int) -> None:
    """Remove article `id`."""
    try:
        knowledge_for(ctx.data_dir).delete(id)
    except NotFound as e:
        raise _refused(e) from None
