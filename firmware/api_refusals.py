"""Turning a store's own refusal into the engine API's `bad_request`.

Every store validates its input and raises an exception whose message is written for the
owner (`ConfigError` and friends). Commands wrap the store call:

    with refusals():
        return speeddial.add_entry(ctx.config, extension, entry)

so the caller gets `ApiError("bad_request", <the same message>)`, shown next to the form as
before. (A save that failed on the disk, `ConfigSaveError`, is a ConfigError too: its message
says to check the storage card, and the form keeps what was typed.)
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .api import ApiError
from .config import ConfigError


@contextlib.contextmanager
def refusals(*more: type[Exception]) -> Iterator[None]:
    """Map ConfigError (and the exception types in `more`) to ApiError("bad_request", message)."""
    try:
        yield
    except (ConfigError, *more) as exc:
        raise ApiError("bad_request", str(exc)) from None
