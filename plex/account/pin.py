"""The plex.tv link code: create it (plexapi's MyPlexPinLogin) and ask whether it was entered.

Creating uses MyPlexPinLogin(session=…, headers=…). Checking is done here by the pin's id and
not with MyPlexPinLogin.checkLogin(), for two reasons: the page checks from a new plugin
process every few seconds, and MyPlexPinLogin cannot be rebuilt from an id (its constructor
always creates a new pin); and checkLogin() reports every failure, plex.tv being unreachable
included, as "expired", while the person must read which of the two happened.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree import ElementTree

import requests
from plexapi.myplex import MyPlexPinLogin

from plex.account.errors import PinExpired, translate

LINK_URL = "https://plex.tv/link"
TIMEOUT = 15.0


@dataclass(frozen=True)
class PinState:
    """'waiting' (seconds_left > 0) or 'linked' (token set); an expired pin raises PinExpired."""
    pin_id: int
    code: str
    seconds_left: int
    token: str | None = field(default=None, repr=False)

    @property
    def state(self) -> str:
        return "linked" if self.token else "waiting"


def start_pin(session: requests.Session, headers: dict) -> PinState:
    """A new 4-character code for plex.tv/link, and how long plex.tv keeps it."""
    try:
        login = MyPlexPinLogin(session=session, headers=headers, requestTimeout=TIMEOUT)
        login.pin  # plexapi 4.18 asks plex.tv for the code on first use of `pin`
    except Exception as exc:  # noqa: BLE001 - the boundary: everything leaves translated
        raise translate(exc) from None
    # plexapi keeps the pin's id only in `_id` (no public accessor); a later process needs it.
    # The check right away also learns expiresIn, which MyPlexPinLogin does not keep.
    return check_pin(session, headers, int(login._id))


def check_pin(session: requests.Session, headers: dict, pin_id: int) -> PinState:
    url = f"{MyPlexPinLogin.PINS}/{int(pin_id)}"  # where MyPlexPinLogin checks its pin
    try:
        response = session.get(url, headers={**headers, "Accept": "application/xml"},
                               timeout=TIMEOUT)
    except requests.RequestException as exc:
        raise translate(exc) from None
    if response.status_code == 404:  # plex.tv: "Code not found or expired" (1020)
        raise PinExpired()
    if not response.ok:
        raise translate(RuntimeError(f"plex.tv answered HTTP {response.status_code}"))
    try:
        pin = ElementTree.fromstring(response.content)
    except ElementTree.ParseError:
        raise translate(RuntimeError("plex.tv's answer was not a pin")) from None
    seconds = int(float(pin.attrib.get("expiresIn") or 0))
    if seconds <= 0 and not pin.attrib.get("authToken"):
        raise PinExpired()
    return PinState(int(pin.attrib["id"]), pin.attrib.get("code", ""), seconds,
                    pin.attrib.get("authToken") or None)
