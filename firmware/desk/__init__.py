"""The agent desktop, engine side: what an agent sees of their own calls and the call control
they have from the browser (click-to-dial, hang up, hold/resume, blind transfer, wrap-up).

The public face (the web reaches it only through the `desk.*` engine API commands):
    agent_view(engine, username)     the agent's status, state and current call (the screen pop's
                                     call half: number, queue, wait, menu path)
    register(engine)                 start the desk's helpers (whisper the caller's name)
    DeskRefusal                      an action the agent may not do (the command turns it into
                                     ApiError; `code` says which)
    actions: ready (end wrap-up now), hold, resume, hang_up, transfer (extension, queue or a
             permitted outside number), record, info_message, click_to_dial, pickup, leave_voicemail
             (media thread, quick)
Every action names the agent (the web passes the logged-in user, never a browser field) and the
call the browser thinks it acts on: a call that is not that agent's own is refused ("forbidden").
"""
from __future__ import annotations

from .live import (
    DeskRefusal,
    agent_view,
    click_to_dial,
    hang_up,
    hold,
    info_message,
    leave_voicemail,
    pickup,
    ready,
    record,
    resume,
    transfer,
)


def register(engine: object) -> object:
    """Start the desk's engine-side helpers on a running engine: whispering callers' names to
    agents (firmware/desk/whisper.py) for queues that ask for it."""
    from .whisper import register as _start
    return _start(engine)


__all__ = ["register", "DeskRefusal", "agent_view", "click_to_dial", "hang_up", "hold", "info_message", "leave_voicemail",
           "pickup", "ready", "record", "resume", "transfer"]
