"""The dial plan: what a string of dialled digits means, and where inbound calls go.

Pure functions of the configuration, rebuilt whenever the config changes, so
the engine never reads storage on the media path. Apps (issue 5: voicemail,
pickup, conference, ...) register feature codes; the plan only says "this is
app X with argument Y" and the engine hands the channel to that app.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Extension:
    number: str
    name: str
    port: str            # "fxs1"
    enabled: bool = True


@dataclass(frozen=True)
class Line:
    port: str            # "fxo1"
    number: str = ""     # the line's own subscriber number
    name: str = ""
    enabled: bool = True


@dataclass(frozen=True)
class Route:
    kind: str            # incomplete | extension | outside | app | invalid
    target: str = ""     # extension number, outside number or app name
    arg: str = ""        # digits after an app's feature code


INCOMPLETE = Route("incomplete")
INVALID = Route("invalid")


@dataclass(frozen=True)
class FeatureCode:
    code: str            # "*97"
    app: str             # name the app registered with the engine
    takes_arg: bool = False   # digits follow the code (directed pickup "*8" + 201), ended by # or timeout


@dataclass
class DialPlan:
    extensions: dict[str, Extension] = field(default_factory=dict)   # number -> extension
    access_code: str = "9"
    feature_codes: list[FeatureCode] = field(default_factory=list)
    max_outside_digits: int = 20

    def resolve(self, digits: str, final: bool = False) -> Route:
        """Meaning of `digits` so far; `final` once the caller stopped dialling (timeout or #)."""
        if not digits:
            return INVALID if final else INCOMPLETE
        terminated = digits.endswith("#")
        if terminated:
            digits, final = digits[:-1], True
        ext = self.extensions.get(digits)
        if ext is not None and ext.enabled:
            if final or not self._longer_prefix(digits):
                return Route("extension", digits)
        for fc in self.feature_codes:
            if digits == fc.code and not fc.takes_arg:
                return Route("app", fc.app)
            if fc.takes_arg and digits.startswith(fc.code):
                if not final:
                    return INCOMPLETE
                if len(digits) > len(fc.code):
                    return Route("app", fc.app, digits[len(fc.code):])
        ac = self.access_code
        if ac and digits.startswith(ac) and not self._longer_prefix(digits, exclude_access=True):
            number = digits[len(ac):]
            if not number:
                return INVALID if final else INCOMPLETE
            if not number.isdigit():
                return INVALID
            if final or len(number) >= self.max_outside_digits:
                return Route("outside", number[: self.max_outside_digits])
            return INCOMPLETE
        if not final and self._any_prefix(digits):
            return INCOMPLETE
        return INVALID

    def _longer_prefix(self, digits: str, exclude_access: bool = False) -> bool:
        """Is `digits` the start of a longer extension or feature code?"""
        return any(len(n) > len(digits) and n.startswith(digits) for n in self.extensions) or any(
            len(fc.code) > len(digits) and fc.code.startswith(digits) for fc in self.feature_codes)

    def _any_prefix(self, digits: str) -> bool:
        if self._longer_prefix(digits):
            return True
        ac = self.access_code
        return bool(ac) and ac.startswith(digits)

    def extension_on_port(self, port: str) -> Extension | None:
        for e in self.extensions.values():
            if e.port == port:
                return e
        return None


def inbound_targets(destination: str, plan: DialPlan) -> list[Extension]:
    """Extensions an inbound call to `destination` rings: "201", "group:all" or "201,202"."""
    dest = (destination or "").strip()
    if dest in ("group:all", "all"):
        return [e for e in plan.extensions.values() if e.enabled]
    out = []
    for part in dest.removeprefix("group:").split(","):
        e = plan.extensions.get(part.strip())
        if e is not None and e.enabled:
            out.append(e)
    return out
