"""What the stand-in records and tests read: guild members and roles, REST requests, injected faults, gateway
connections and heartbeats, interactions and what the bot did with them, users' messages and their replies."""

from __future__ import annotations

import asyncio
import copy
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Sequence

from .protocol import CB_AUTOCOMPLETE, CB_DEFERRED_MESSAGE, CB_DEFERRED_UPDATE, CB_MODAL, CB_PONG, FLAG_EPHEMERAL, _now_iso

if TYPE_CHECKING:
    from .server import FakeDiscord


@dataclass
class RoleRecord:
    id: int
    name: str
    permissions: int = 0
    position: int = 1
    managed: bool = False
    bot_id: Optional[int] = None

    def payload(self) -> dict:
        data = {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }
        if self.bot_id is not None:
            data["tags"] = {"bot_id": str(self.bot_id)}
        return data


@dataclass
class MemberRecord:
    """A guild member (and its user).  ``permissions`` are granted on top of @everyone and roles."""

    id: int
    name: str
    permissions: int = 0
    roles: List[int] = field(default_factory=list)
    nick: Optional[str] = None
    bot: bool = False
    global_name: Optional[str] = None
    joined_at: str = field(default_factory=_now_iso)

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def user_payload(self) -> dict:
        return {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }

    def member_payload(self, *, with_user: bool = True, permissions: Optional[int] = None) -> dict:
        data: Dict[str, Any] = {
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user_payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class RequestRecord:
    """One REST request as the bot sent it."""

    method: str
    path: str  # without the /api/v10 prefix, e.g. "/channels/1/messages"
    query: Dict[str, str]
    json: Any
    headers: Dict[str, str]
    at: float  # time.perf_counter()
    status: Optional[int] = None
    fault: Optional[str] = None
    files: List[dict] = field(default_factory=list)

    def __repr__(self) -> str:
        extra = f" fault={self.fault}" if self.fault else ""
        return f"<{self.method} {self.path} -> {self.status}{extra}>"


@dataclass
class Fault:
    """A queued failure injected by :meth:`FakeDiscord.fail_next`."""

    method: str
    pattern: "re.Pattern[str]"
    status: Optional[int]
    retry_after: float
    count: int
    is_global: bool = False
    delay: float = 0.0
    body: Optional[dict] = None
    via: bool = True
    hits: int = 0

    @property
    def exhausted(self) -> bool:
        return self.hits >= self.count

    def matches(self, method: str, path: str) -> bool:
        return (self.method == "*" or self.method == method) and self.pattern.fullmatch(path) is not None


@dataclass
class GatewayConnection:
    path: str
    query: Dict[str, str]
    opened_at: float
    kind: Optional[str] = None  # "identify" | "resume" | "resume-failed"
    session_id: Optional[str] = None
    closed_at: Optional[float] = None
    close_code: Optional[int] = None
    received_ops: List[int] = field(default_factory=list)


@dataclass
class HeartbeatRecord:
    at: float  # time.monotonic()
    seq: Optional[int]
    connection: int  # index into FakeDiscord.connections


@dataclass
class FinalResponse:
    """What a user ends up seeing for an interaction."""

    type: int  # callback type
    message: Optional[dict]  # @original as it is now (None if deleted / no message)
    followups: List[dict]
    ephemeral: bool
    deleted: bool = False
    choices: Optional[List[dict]] = None  # autocomplete
    modal: Optional[dict] = None

    @property
    def messages(self) -> List[dict]:
        return ([self.message] if self.message else []) + list(self.followups)

    @property
    def content(self) -> str:
        return (self.message or {}).get("content") or ""

    @property
    def embeds(self) -> List[dict]:
        return (self.message or {}).get("embeds") or []

    @property
    def text(self) -> str:
        """All visible text: contents, embed titles/descriptions/fields/footers, of every message."""
        return "\n".join(message_text(m) for m in self.messages)


def message_text(message: dict) -> str:
    parts: List[str] = []
    if message.get("content"):
        parts.append(message["content"])
    for e in message.get("embeds") or []:
        for key in ("title", "description"):
            if e.get(key):
                parts.append(e[key])
        for f in e.get("fields") or []:
            parts.append(f"{f.get('name', '')}\n{f.get('value', '')}")
        if (e.get("footer") or {}).get("text"):
            parts.append(e["footer"]["text"])
    _collect_component_text(message.get("components") or [], parts)
    return "\n".join(parts)


def _collect_component_text(components: Sequence[dict], out: List[str]) -> None:
    for c in components:
        if c.get("type") == 10 and c.get("content"):
            out.append(c["content"])
        _collect_component_text(c.get("components") or [], out)
        if isinstance(c.get("accessory"), dict):
            _collect_component_text([c["accessory"]], out)


def _iter_components(components: Sequence[dict]) -> Iterable[dict]:
    for c in components or []:
        yield c
        yield from _iter_components(c.get("components") or [])
        if isinstance(c.get("accessory"), dict):
            yield c["accessory"]
        if isinstance(c.get("component"), dict):  # label (type 18)
            yield c["component"]


class InteractionRecord:
    """An interaction dispatched by the harness and what the bot did with it."""

    def __init__(self, fd: "FakeDiscord", *, id: int, token: str, type: int, payload: dict, user: MemberRecord) -> None:
        self.fd = fd
        self.id = id
        self.token = token
        self.type = type
        self.payload = payload
        self.user = user
        self.dispatched_at: float = 0.0
        self.callbacks: List[dict] = []  # accepted callback bodies (0 or 1)
        self.response_at: Optional[float] = None
        self.response_type: Optional[int] = None
        self.source_message_id: Optional[int] = None  # message a component lives on
        self.message_id: Optional[int] = None  # the @original message
        self.followup_ids: List[int] = []
        self.followup_bodies: List[dict] = []
        self.edits: List[dict] = []  # PATCH @original bodies
        self.loading = False
        self.original_deleted = False
        self.expired = False
        self.choices: Optional[List[dict]] = None
        self.modal: Optional[dict] = None
        self.last_activity: float = 0.0
        self.tasks_mark: Optional[int] = None  # where the loop's task log stood when it was dispatched
        self._post_ack_activity = 0

    def __repr__(self) -> str:
        return f"<InteractionRecord id={self.id} type={self.type} response_type={self.response_type}>"

    # -- state -------------------------------------------------------------------------

    @property
    def attempts(self) -> List[RequestRecord]:
        """Every callback request for this interaction, including faulted / rejected ones."""
        prefix = f"/interactions/{self.id}/"
        return [r for r in self.fd.requests if r.path.startswith(prefix)]

    @property
    def acked(self) -> bool:
        return self.response_type is not None

    @property
    def response(self) -> Optional[dict]:
        return self.callbacks[0] if self.callbacks else None

    @property
    def latency(self) -> Optional[float]:
        """Seconds from dispatching INTERACTION_CREATE to receiving the accepted callback."""
        if self.response_at is None:
            return None
        return self.response_at - self.dispatched_at

    @property
    def message(self) -> Optional[dict]:
        """The current @original message (or, before any response, the message a component is on)."""
        mid = self.message_id if self.message_id is not None else self.source_message_id
        if mid is None:
            return None
        return self.fd.messages.get(mid)

    @property
    def followups(self) -> List[dict]:
        return [self.fd.messages[m] for m in self.followup_ids if m in self.fd.messages]

    def _touch(self, *, post_ack: bool = True) -> None:
        self.last_activity = time.perf_counter()
        if post_ack and self.acked:
            self._post_ack_activity += 1
        self.fd._notify()

    def _visible(self) -> bool:
        t = self.response_type
        if t is None:
            return False
        if t == CB_DEFERRED_MESSAGE:
            return not self.loading or self.original_deleted
        if t == CB_DEFERRED_UPDATE:
            return self._post_ack_activity > 0
        return True

    # -- waiting -----------------------------------------------------------------------

    async def wait_response(self, timeout: float = 5.0) -> dict:
        """Wait for the interaction callback and return its body (``{"type": ..., "data": ...}``)."""
        await self.fd._wait_until(lambda: self.callbacks, timeout, f"a callback for interaction {self.id} ({self._label()})")
        return self.callbacks[0]

    async def wait_final(self, timeout: float = 5.0, settle: float = 0.05) -> FinalResponse:
        """Wait until the user sees a result, then until the bot has finished with it: until every handler
        task discord.py started for this interaction (or for any event sent after it), and every task those
        started, has ended, or until nothing changed for ``settle`` seconds, whichever comes first.

        * type 4 / 7: the callback message;
        * type 5: the "thinking" message once edited (PATCH @original) or filled by the first followup;
        * type 6: the component message once edited, or a followup.
        """
        deadline = time.perf_counter() + timeout
        await self.fd._wait_until(self._visible, timeout, f"a visible response to interaction {self.id} ({self._label()})")
        while True:
            quiet = time.perf_counter() - self.last_activity
            wait = min(settle - quiet, deadline - time.perf_counter())
            if wait <= 0:
                break
            seen, running = self._handling()
            if seen and not running:
                break  # the bot is done with it: nothing more can change
            if running:
                await asyncio.wait(running, timeout=wait)
            else:
                await asyncio.sleep(wait)
        msg = None if self.original_deleted else self.message
        if self.response_type in (CB_AUTOCOMPLETE, CB_MODAL, CB_PONG):
            msg = None
        return FinalResponse(
            type=self.response_type or 0,
            message=copy.deepcopy(msg),
            followups=copy.deepcopy(self.followups),
            ephemeral=bool(msg and (msg.get("flags", 0) & FLAG_EPHEMERAL)),
            deleted=self.original_deleted,
            choices=self.choices,
            modal=self.modal,
        )

    def _handling(self) -> "tuple[bool, List[asyncio.Task[Any]]]":
        """Whether the bot started handling this interaction, and the tasks of that still running."""
        log = self.fd._tasks
        if log is None or self.tasks_mark is None:
            return False, []
        return log.handling(self.tasks_mark)

    def _label(self) -> str:
        data = self.payload.get("data") or {}
        return data.get("name") or data.get("custom_id") or "?"


class UserMessageRecord:
    """A message a (fake) user posted, dispatched as MESSAGE_CREATE."""

    def __init__(self, fd: "FakeDiscord", payload: dict) -> None:
        self.fd = fd
        self.payload = payload
        self.id = int(payload["id"])
        self.dispatched_at = 0.0
        self.reply_ids: List[int] = []
        self.reply_bodies: List[dict] = []
        self.reply_at: Optional[float] = None

    def __repr__(self) -> str:
        return f"<UserMessageRecord id={self.id} replies={len(self.reply_ids)}>"

    @property
    def latency(self) -> Optional[float]:
        return None if self.reply_at is None else self.reply_at - self.dispatched_at

    @property
    def replies(self) -> List[dict]:
        """Stored messages that reply to this one (message_reference.message_id == self.id)."""
        return [self.fd.messages[m] for m in self.reply_ids if m in self.fd.messages]

    @property
    def reply_message(self) -> Optional[dict]:
        r = self.replies
        return r[0] if r else None

    async def wait_reply(self, timeout: float = 5.0) -> dict:
        """Wait for the bot to reply to this message; returns the JSON body the bot POSTed."""
        await self.fd._wait_until(lambda: self.reply_bodies, timeout, f"a reply to message {self.id}")
        return self.reply_bodies[0]
