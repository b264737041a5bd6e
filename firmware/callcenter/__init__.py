"""Call center: queues, agents, announcements, music on hold, callback, survey, queue event log.

The public face (other packages use only these):
    register(engine)            start the call center on an engine (apps, feature codes)
    service_of(engine)          the running QueueService (live status, login/pause from the API)
    music_on_hold(engine, cls)  a media source of music for any held call
    model                       config: load/save/validate queues, agents, teams, pause reasons, surveys
    QueueEventLog, export_queue_log, estimator_error, FINAL_EVENTS   the queue event log
    Dispatcher, Entry, QueueRules   the dispatcher (pure policy)
"""
from __future__ import annotations

from typing import Any

from . import model
from .dispatcher import Dispatcher, Entry, QueueRules
from .events import FINAL_EVENTS, QueueEventLog, estimator_error, export_queue_log
from .moh import MusicSource, default_music


def _queue_problem(cfg: Any, value: str) -> str | None:
    if model.queue(cfg, value.strip()) is None:
        return f"queue {value[:10]!r} does not exist"
    return None


def _queue_choices(cfg: Any) -> list[tuple[str, str]]:
    return [(q["number"], f"{q['number']} {q['name']}".strip()) for q in model.load_queues(cfg)]


def _register_destinations() -> None:
    from ..apps.ivr_store import register_ivr_destination
    from ..config import register_destination_kind
    register_destination_kind("queue", _queue_problem)
    register_ivr_destination("queue", "Call-center queue", _queue_problem, _queue_choices)
    from ..apps.transfer import register_transfer_app
    register_transfer_app(is_queue_app)
    from ..apps.pickup import register_pickup_source
    register_pickup_source(ringing_queue_calls)


def ringing_queue_calls(engine: Any) -> list[tuple[Any, Any]]:
    """Queue calls ringing agents' phones, for call pickup (`*8`, `**ext`, the desktop): taken by
    another logged-in agent, with the queue's bookkeeping (`QueueService.pick_up`)."""
    svc = service_of(engine)
    if svc is None:
        return []
    return [(offer.ch, lambda picker, offer=offer: svc.pick_up(offer, picker)) for offer in svc.ringing_offers()]


def is_queue_app(app: str) -> bool:
    """Engine app names of queues ("queue-600"): a flash-transfer may send a held caller there."""
    return app.startswith("queue-")


_register_destinations()


def register(engine: Any) -> Any:
    from .service import register as _start
    svc = _start(engine)
    if svc is not None:
        from .supervision import register as _supervision
        _supervision(engine)
    return svc


def service_of(engine: Any) -> Any:
    from .service import service_of as _of
    return _of(engine)


def music_on_hold(engine: Any, cls: str = "default") -> MusicSource:
    """Music for a held call: the running call center's class, or the generated default."""
    svc = service_of(engine)
    if svc is not None:
        return svc.music.source(cls)
    return MusicSource([default_music()])


__all__ = ["register", "service_of", "music_on_hold", "model", "Dispatcher", "Entry", "QueueRules",
           "QueueEventLog", "export_queue_log", "estimator_error", "FINAL_EVENTS"]
