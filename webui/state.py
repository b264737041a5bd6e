"""What every request handler of the web UI can reach (kept on `app.state.web`)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates

from .accounts import UserAccounts
from .login_limit import LoginThrottle
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
    api: Any = None         # firmware.api.LocalClient: `await web(request).api.call("domain.verb", **args)`
