"""The knowledge base: standard answers and articles, searchable, suggested by disposition.
Public face: `KnowledgeBase`, `ArticleError`, `NotFound`, `knowledge_for`; commands in `commands.py`."""
from __future__ import annotations

import threading
from pathlib import Path

from .articles import ArticleError, KnowledgeBase, NotFound

DB_NAME = "knowledge.db"
_OPEN: dict[Path, KnowledgeBase] = {}
_LOCK = threading.Lock()


def knowledge_for(data_dir: Path | str) -> KnowledgeBase:
    """The knowledge base of a data folder (opened once per process)."""
    path = Path(data_dir) / DB_NAME
    with _LOCK:
        kb = _OPEN.get(path)
        if kb is None:
            kb = _OPEN[path] = KnowledgeBase(path)
        return kb


__all__ = ["KnowledgeBase", "ArticleError", "NotFound", "knowledge_for", "DB_NAME"]
