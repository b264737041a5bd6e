"""The sidebar: one list of sections and pages, each with the roles that may open it.

Later pages (IVR builder, voicemail, recordings, messages, queues, agent desktop)
slot in by adding a `Page` here and a router in `app.py`; the sidebar, the role
check text and the landing page all follow from this list.
"""
from __future__ import annotations

from dataclasses import dataclass

ALL_ROLES = ("admin", "supervisor", "agent")


@dataclass(frozen=True)
class Page:
    title: str
    path: str
    roles: tuple[str, ...]
    icon: str          # name of an inline SVG symbol in templates/_icons.html


@dataclass(frozen=True)
class Section:
    title: str
    pages: tuple[Page, ...]


SECTIONS: tuple[Section, ...] = (
    Section("Monitor", (
        Page("Live status", "/status", ("admin", "supervisor"), "pulse"),
        Page("My phone", "/me", ALL_ROLES, "phone"),
        Page("Call history", "/history", ("admin", "supervisor"), "history"),
        Page("Recordings", "/recordings", ("admin", "supervisor"), "history"),
    )),
    Section("PBX", (
        Page("Extensions", "/extensions", ("admin",), "ext"),
        Page("Lines", "/lines", ("admin",), "line"),
        Page("Line calibration", "/line-calibration", ("admin",), "line"),
        Page("Permissions", "/permissions", ("admin",), "gear"),
        Page("Voicemail", "/voicemail", ALL_ROLES, "phone"),
        Page("Fax inbox", "/fax", ALL_ROLES, "phone"),
        Page("Send a fax", "/fax/send", ALL_ROLES, "phone"),
        Page("Fax settings", "/fax/settings", ("admin",), "gear"),
        Page("Auto attendant", "/ivr", ("admin",), "line"),
        Page("Time conditions", "/timeconditions", ("admin",), "history"),
        Page("Prompts", "/prompts", ("admin",), "phone"),
        Page("Ring & page groups", "/phone/groups", ("admin",), "users"),
        Page("Forwarding & DND", "/phone/services", ALL_ROLES, "phone"),
        Page("Address book", "/phone/addressbook", ALL_ROLES, "users"),
        Page("Messages", "/phone/messages", ALL_ROLES, "pulse"),
        Page("Conference room", "/conference", ("admin",), "users"),
        # issue 5 pages go here: IVR menus, voicemail, recordings, messages
    )),
    Section("Call center", (
        Page("Queues live", "/callcenter/live", ("admin", "supervisor"), "pulse"),
        Page("Campaigns", "/campaigns", ("admin", "supervisor"), "phone"),
        Page("Agent desktop", "/desk", ALL_ROLES, "phone"),
        Page("Queues & agents", "/callcenter/config", ("admin",), "users"),
        Page("Customers", "/customers", ALL_ROLES, "users"),
        Page("Work orders", "/workorders", ALL_ROLES, "history"),
        Page("Knowledge base", "/knowledge", ALL_ROLES, "history"),
    )),
    Section("Reports", (
        Page("Reports", "/reports", ("admin", "supervisor"), "history"),
    )),
    Section("System", (
        Page("Settings", "/settings", ("admin",), "gear"),
        Page("Users", "/users", ("admin",), "users"),
        Page("Backup & restore", "/backup", ("admin",), "gear"),
        Page("Update", "/update", ("admin",), "gear"),
        Page("ssh access", "/ssh-access", ("admin",), "gear"),
    )),
)


def sections_for(role: str) -> list[Section]:
    out = []
    for s in SECTIONS:
        pages = tuple(p for p in s.pages if role in p.roles)
        if pages:
            out.append(Section(s.title, pages))
    return out


def landing_page(role: str) -> str:
    return "/status" if role in ("admin", "supervisor") else "/me"
