"""Engine API commands of the first-boot claim (the setup code file belongs to the engine)."""
from __future__ import annotations

from ..api import ApiContext, command
from . import code_matches, ensure_code, renew_code


@command("setup.ensure_code", on="store")
def setup_ensure_code(ctx: ApiContext) -> str:
    """The current setup code, made (DATA/setup.code, 0600) if there is none: the web asks for it
    at start while no administrator exists, to print it on the console."""
    return ensure_code(ctx.data_dir)


@command("setup.check_code", on="store")
def setup_check_code(ctx: ApiContext, code: str) -> bool:
    """Is `code` the current setup code (spaces ignored)?"""
    return code_matches(ctx.data_dir, code[:64])


@command("setup.renew_code", on="store")
def setup_renew_code(ctx: ApiContext) -> None:
    """The code was used to create the administrator: replace it (single use)."""
    renew_code(ctx.data_dir)
