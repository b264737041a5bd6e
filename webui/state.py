"""What every request handler of the web UI can reach (kept on `app.state.web`)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates

from .accounts import UserAccounts
from .login_limit import HashSlots, LoginThrottle
from .sessions import SessionStore


@dataclass
class WebState:
    control: Any            # firmware.control.EngineControl
    config: Any             # firmware.config.Config
    records: Any            # firmware.records.CallRecords
    data_dir: Path
    accounts: UserAccounts
    sessions: SessionStore
    throttle: LoginThrottle
    templates: Jinja2Templates
    clock: Callable[[], float]
    devices: Any = None     # webui.devices.KnownDevices (signed device cookies)
    hash_slots: HashSlots = field(default_factory=HashSlots)
    api: Any = None         # firmware.api.LocalClient (the engine API)
    store_alarm: str | None = None     # the web's own store was damaged and started anew
