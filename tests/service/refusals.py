"""The facts a refusal carries, written as the fund's rules expect them."""

from __future__ import annotations


def insufficient(project: str, available: str, requested: str) -> dict[str, str]:
    return {"project": project, "available": available, "requested": requested}


def wrong_state(what: str, key: str, state: str, needed: str) -> dict[str, str]:
    return {"what": what, "key": key, "state": state, "needed": needed}
