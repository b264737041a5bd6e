"""The knowledge base: standard answers and articles, searchable, suggested by disposition.
Public face: `KnowledgeBase`, `ArticleError`, `NotFound`, `knowledge_for`; commands in `commands.py`."""
from __future__ import annotations

from pathlib import Path

from ..sqlite_files import shared_store
from .articles import ArticleError, KnowledgeBase, NotFound

DB_NAME = "knowledge.db"


def knowledge_for(data_dir: Path | str) -> KnowledgeBase:
    """The knowledge base of a data folder (opened once per process)."""
    return shared_store(Path(data_dir) / DB_NAME, KnowledgeBase)


__all__ = ["KnowledgeBase", "ArticleError", "NotFound", "knowledge_for", "DB_NAME"]
