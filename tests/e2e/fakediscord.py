"""A loopback-only stand-in for Discord's gateway and REST API.

It lets end-to-end tests run the *real* discord.py client (its gateway,
state and HTTP code) against an aiohttp server bound to 127.0.0.1.

Usage::

    async with FakeDiscord() as fd:
        alice = fd.add_member("alice")
        await fd.start_bot(bot, "fake-token")          # or asyncio.create_task(bot.start(...)) + fd.wait_ready()
        r = await fd.slash("echo", {"text": "hi"}, user=alice)
        body = await r.wait_response()                 # {"type": 4, "data": {...}}
        final = await r.wait_final()                   # what the user ends up seeing
        c = await fd.click(r.message, "echo:again", user=alice)
        m = await fd.mention(alice, "hello")
        reply = await m.wait_reply()
        await fd.stop_bot()

While it runs, ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY`` and
``discord.http.Route.BASE`` point at the fake server, and (by default) any
socket connection or name lookup that is not loopback raises
:class:`ExternalNetworkBlocked`.  Everything is restored on exit.

Behaviour that mirrors Discord and matters to bots:

* JSON responses carry ``Content-Type: application/json`` with no charset
  (discord.py only parses JSON on an exact match, see ``json_or_text``).
* gateway frames are plain JSON text frames (no zlib, although the client asks
  for ``compress=zlib-stream``); sequence numbers, RESUME with replay of missed
  events, RECONNECT (op 7) and INVALID_SESSION (op 9) are implemented.
* intents are honoured: no MESSAGE_CREATE without GUILD_MESSAGES, empty
  content without MESSAGE_CONTENT unless the bot is mentioned, members in
  GUILD_CREATE only with GUILD_MEMBERS, close 4014 for disallowed privileged
  intents, close 4004 for a wrong token.
* interaction callbacks must arrive within ``interaction_deadline`` seconds
  (3 s like Discord) or get ``404 Unknown interaction (10062)``; a second
  callback gets ``400 (40060)``; after a type-5 defer the first followup fills
  the "thinking" message, as Discord does.
* messages are validated against Discord's limits (2000 chars of content,
  embed limits, 5 action rows, unique custom ids, empty message ...) and
  rejected with ``400 Invalid Form Body (50035)`` / ``50006``.
* any route that is not implemented answers a Discord-style 404 and is listed
  in :attr:`FakeDiscord.unexpected`.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import ipaddress
import itertools
import json
import logging
import re
import secrets
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Deque, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import WSMsgType, web

__all__ = [
    "FakeDiscord",
    "MemberRecord",
    "RoleRecord",
    "RequestRecord",
    "InteractionRecord",
    "FinalResponse",
    "UserMessageRecord",
    "Fault",
    "GatewayConnection",
    "HeartbeatRecord",
    "ExternalNetworkBlocked",
    "BotStopped",
]

log = logging.getLogger("fakediscord")

DISCORD_EPOCH_MS = 1420070400000

# Gateway intents (https://discord.com/developers/docs/events/gateway#gateway-intents)
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_PRESENCES = 1 << 8
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_MESSAGE_CONTENT = 1 << 15
PRIVILEGED_INTENTS = INTENT_GUILD_MEMBERS | INTENT_GUILD_PRESENCES | INTENT_MESSAGE_CONTENT

# Message flags
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_COMPONENTS_V2 = 1 << 15

# Interaction types / callback types
IT_PING, IT_COMMAND, IT_COMPONENT, IT_AUTOCOMPLETE, IT_MODAL = 1, 2, 3, 4, 5
CB_PONG, CB_MESSAGE, CB_DEFERRED_MESSAGE, CB_DEFERRED_UPDATE, CB_UPDATE, CB_AUTOCOMPLETE, CB_MODAL = 1, 4, 5, 6, 7, 8, 9
_ALLOWED_CALLBACKS = {
    IT_PING: {CB_PONG},
    IT_COMMAND: {CB_MESSAGE, CB_DEFERRED_MESSAGE, CB_MODAL},
    IT_COMPONENT: {CB_MESSAGE, CB_DEFERRED_MESSAGE, CB_DEFERRED_UPDATE, CB_UPDATE, CB_MODAL},
    IT_AUTOCOMPLETE: {CB_AUTOCOMPLETE},
    IT_MODAL: {CB_MESSAGE, CB_DEFERRED_MESSAGE, CB_DEFERRED_UPDATE, CB_UPDATE},
}

# Application command option types
OPT_SUB_COMMAND, OPT_SUB_COMMAND_GROUP = 1, 2
OPT_STRING, OPT_INTEGER, OPT_BOOLEAN, OPT_USER, OPT_CHANNEL, OPT_ROLE, OPT_MENTIONABLE, OPT_NUMBER = 3, 4, 5, 6, 7, 8, 9, 10

DEFAULT_EVERYONE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    add_reactions=True,
    read_message_history=True,
    use_external_emojis=True,
    use_application_commands=True,
).value
DEFAULT_BOT_PERMISSIONS = DEFAULT_EVERYONE_PERMISSIONS
ALL_PERMISSIONS = discord.Permissions.all().value
ADMINISTRATOR = discord.Permissions(administrator=True).value


def _now_iso() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _json_response(data: Any, status: int = 200, headers: Optional[Dict[str, str]] = None) -> web.Response:
    # NB: web.json_response() would send "application/json; charset=utf-8" and
    # discord.http.json_or_text() only decodes on an exact "application/json".
    return web.Response(body=_dumps(data).encode(), status=status, content_type="application/json", headers=headers)


def _error(status: int, code: int, message: str, errors: Optional[dict] = None, headers=None) -> web.Response:
    body: Dict[str, Any] = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return _json_response(body, status=status, headers=headers)


def _form_error(errors: dict) -> web.Response:
    return _error(400, 50035, "Invalid Form Body", errors)


def _field_error(code: str, message: str) -> dict:
    return {"_errors": [{"code": code, "message": message}]}


# --------------------------------------------------------------------------------------
# network guard
# --------------------------------------------------------------------------------------


class ExternalNetworkBlocked(ConnectionRefusedError):
    """Raised when code under test tries to reach anything but loopback."""


class BotStopped(RuntimeError):
    """The bot task started by :meth:`FakeDiscord.start_bot` ended while the harness was waiting."""

    def __init__(self, message: str, exception: Optional[BaseException]) -> None:
        super().__init__(message)
        self.exception = exception


def _is_loopback_host(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    host = str(host)
    if host in ("localhost", "localhost.", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class _NetworkGuard:
    def __init__(self, on_block: Callable[[str], None]) -> None:
        self._on_block = on_block
        self._saved: Optional[Tuple[Any, Any, Any]] = None

    def install(self) -> None:
        orig_connect = socket.socket.connect
        orig_connect_ex = socket.socket.connect_ex
        orig_getaddrinfo = socket.getaddrinfo
        on_block = self._on_block

        def check(sock: socket.socket, address: Any) -> None:
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                host = address[0] if isinstance(address, tuple) else address
                if not _is_loopback_host(host):
                    on_block(f"connect {address!r}")
                    raise ExternalNetworkBlocked(f"fakediscord: blocked connection to non-loopback address {address!r}")

        def connect(sock, address):  # type: ignore[no-untyped-def]
            check(sock, address)
            return orig_connect(sock, address)

        def connect_ex(sock, address):  # type: ignore[no-untyped-def]
            check(sock, address)
            return orig_connect_ex(sock, address)

        def getaddrinfo(host, *args, **kwargs):  # type: ignore[no-untyped-def]
            if not _is_loopback_host(host):
                on_block(f"getaddrinfo {host!r}")
                raise ExternalNetworkBlocked(f"fakediscord: blocked name lookup of {host!r}")
            return orig_getaddrinfo(host, *args, **kwargs)

        self._saved = (orig_connect, orig_connect_ex, orig_getaddrinfo)
        socket.socket.connect = connect  # type: ignore[method-assign]
        socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]

    def uninstall(self) -> None:
        if self._saved is None:
            return
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = self._saved  # type: ignore[method-assign]
        self._saved = None


# --------------------------------------------------------------------------------------
# records
# --------------------------------------------------------------------------------------


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
        """Wait until the user sees a result, then until nothing changed for ``settle`` seconds.

        * type 4 / 7: the callback message;
        * type 5: the "thinking" message once edited (PATCH @original) or filled by the first followup;
        * type 6: the component message once edited, or a followup.
        """
        deadline = time.perf_counter() + timeout
        await self.fd._wait_until(self._visible, timeout, f"a visible response to interaction {self.id} ({self._label()})")
        while True:
            quiet = time.perf_counter() - self.last_activity
            if quiet >= settle:
                break
            if time.perf_counter() + (settle - quiet) > deadline:
                break
            await asyncio.sleep(settle - quiet)
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


class _Session:
    def __init__(self, session_id: str, shard: Optional[List[int]], intents: int, token: str) -> None:
        self.id = session_id
        self.shard = shard
        self.intents = intents
        self.token = token
        self.seq = 0
        self.buffer: Deque[Tuple[int, str]] = deque(maxlen=5000)
        self.ws: Optional[web.WebSocketResponse] = None
        self.request: Optional[web.Request] = None
        self.live = False
        self.invalid = False
        self.lock = asyncio.Lock()

    @property
    def shard_index(self) -> int:
        return self.shard[0] if self.shard else 0


# --------------------------------------------------------------------------------------
# the fake
# --------------------------------------------------------------------------------------

_Handler = Callable[..., Awaitable[web.StreamResponse]]


class FakeDiscord:
    """Fake Discord (gateway + REST) on 127.0.0.1; use as ``async with FakeDiscord() as fd``."""

    _active: Optional["FakeDiscord"] = None

    def __init__(
        self,
        *,
        token: Optional[str] = None,
        heartbeat_interval: float = 41.25,
        shards: int = 1,
        guild_name: str = "Test Guild",
        channel_name: str = "news",
        bot_name: str = "storybot",
        interaction_deadline: Optional[float] = 3.0,
        followup_window: float = 15 * 60.0,
        allowed_intents: Optional[int] = None,
        everyone_permissions: int = DEFAULT_EVERYONE_PERMISSIONS,
        bot_permissions: int = DEFAULT_BOT_PERMISSIONS,
        ack_heartbeats: bool = True,
        require_registered_commands: bool = True,
        validate_messages: bool = True,
        block_external_network: bool = True,
    ) -> None:
        """
        token: if set, REST calls and IDENTIFY with another token are refused (401 / close 4004).
        heartbeat_interval: seconds, sent in HELLO (Discord uses 41.25).
        shards: what GET /gateway/bot recommends.
        interaction_deadline: seconds a callback may take (None: no limit).
        allowed_intents: privileged intents the app may use (None: all); others -> close 4014.
        everyone_permissions / bot_permissions: @everyone role and the bot's managed role.
        require_registered_commands: slash() refuses commands the bot has not synced.
        validate_messages: enforce Discord's message/embed/component limits.
        block_external_network: make non-loopback connects and DNS lookups raise ExternalNetworkBlocked.
        """
        self.token = token
        self.heartbeat_interval = heartbeat_interval
        self.shard_count = shards
        self.interaction_deadline = interaction_deadline
        self.followup_window = followup_window
        self.allowed_intents = allowed_intents
        self.ack_heartbeats = ack_heartbeats
        self.require_registered_commands = require_registered_commands
        self.validate_messages = validate_messages
        self.block_external_network = block_external_network

        self._commands: Dict[Optional[int], Dict[Tuple[str, int], dict]] = {}
        self._command_ids: Dict[Tuple[Optional[int], str, int], int] = {}
        self._interactions_by_id: Dict[int, InteractionRecord] = {}
        self._interactions_by_token: Dict[str, InteractionRecord] = {}
        self._sessions: Dict[str, _Session] = {}
        self._shard_sessions: Dict[int, _Session] = {}
        self._expected_shards: Optional[int] = None
        self._open_ws: Dict[int, Tuple[web.WebSocketResponse, web.Request]] = {}

        self._runner: Optional[web.AppRunner] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._change: Optional[asyncio.Future[None]] = None
        self._saved_gateway: Any = None
        self._saved_base: Any = None
        self._guard: Optional[_NetworkGuard] = None
        self._bot: Optional[discord.Client] = None
        self._bot_task: Optional[asyncio.Task[None]] = None
        self.port: int = 0
        self._routes: List[Tuple[str, "re.Pattern[str]", _Handler]] = []
        self._bg_tasks: "set[asyncio.Task[Any]]" = set()
        self._last_snowflake = 0
        self._increment = itertools.count()
        self.guild_id = self.new_id()
        self.app_id = self.new_id()
        self.bot_user_id = self.app_id  # like modern Discord apps: bot user id == application id
        self.owner_id = self.new_id()
        self.guild_name = guild_name
        self.bot_name = bot_name
        self.app_flags = (1 << 15) | (1 << 19)  # GATEWAY_GUILD_MEMBERS_LIMITED | GATEWAY_MESSAGE_CONTENT_LIMITED

        self.roles: Dict[int, RoleRecord] = {
            self.guild_id: RoleRecord(id=self.guild_id, name="@everyone", permissions=everyone_permissions, position=0)
        }
        bot_role = RoleRecord(id=self.new_id(), name=bot_name, permissions=bot_permissions, managed=True, bot_id=self.bot_user_id)
        self.roles[bot_role.id] = bot_role
        self.bot_member = MemberRecord(id=self.bot_user_id, name=bot_name, roles=[bot_role.id], bot=True)
        self.members: Dict[int, MemberRecord] = {self.bot_user_id: self.bot_member}
        self.channels: Dict[int, dict] = {}
        self.dm_channels: Dict[int, dict] = {}  # direct-message channels the bot opened
        self.channel_id = self.add_channel(channel_name)
        self._default_member: Optional[MemberRecord] = None

        # observable state
        self.requests: List[RequestRecord] = []
        self.unexpected: List[RequestRecord] = []
        self.messages: Dict[int, dict] = {}
        self.interactions: List[InteractionRecord] = []
        self.user_messages: Dict[int, UserMessageRecord] = {}
        self.connections: List[GatewayConnection] = []
        self.heartbeat_log: List[HeartbeatRecord] = []
        self.identifies: List[dict] = []
        self.resumes: List[dict] = []
        self.presence_updates: List[dict] = []
        self.command_syncs: List[Tuple[Optional[int], list]] = []
        self.blocked_connections: List[str] = []
        self.faults: List[Fault] = []
        self.pings: Dict[int, dict] = {}  # message id -> {"users": [...], "roles": [...], "everyone": bool}

        self._build_routes()

    # ---------------------------------------------------------------------------------
    # lifecycle
    # ---------------------------------------------------------------------------------

    async def __aenter__(self) -> "FakeDiscord":
        await self.start()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.close()
        if exc_type is None and self.blocked_connections:
            raise AssertionError(f"code under test tried to leave loopback: {self.blocked_connections}")

    async def start(self) -> None:
        if FakeDiscord._active is not None:
            raise RuntimeError("another FakeDiscord is already running (they patch process-wide discord.py globals)")
        self._loop = asyncio.get_running_loop()
        self._change = self._loop.create_future()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/api/v{version:\\d+}/{tail:.*}", self._rest_handler)
        app.router.add_get("/{gw:gateway.*}", self._gateway_handler)
        app.router.add_route("*", "/{tail:.*}", self._fallback_handler)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

        FakeDiscord._active = self
        self._saved_gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
        self._saved_base = discord.http.Route.BASE
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        discord.http.Route.BASE = self.base_url
        if self.block_external_network:
            self._guard = _NetworkGuard(self.blocked_connections.append)
            self._guard.install()

    async def close(self) -> None:
        try:
            if self._bot is not None and self._bot_task is not None and not self._bot_task.done():
                try:
                    await self.stop_bot()
                except Exception:  # pragma: no cover - reported by the test anyway
                    log.exception("error while stopping the bot")
            for task in list(self._bg_tasks):
                task.cancel()
            if self._open_ws:
                log.warning(
                    "fakediscord closing with %d gateway connection(s) still open: close the bot first "
                    "(await bot.close() / fd.stop_bot()), or it will keep trying to reconnect",
                    len(self._open_ws),
                )
            for ws, _ in list(self._open_ws.values()):
                try:
                    await asyncio.wait_for(ws.close(code=1001, message=b"fakediscord shutting down"), 1.0)
                except Exception:
                    pass
            if self._runner is not None:
                await self._runner.cleanup()
                self._runner = None
        finally:
            if FakeDiscord._active is self:
                discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._saved_gateway
                discord.http.Route.BASE = self._saved_base
                FakeDiscord._active = None
            if self._guard is not None:
                self._guard.uninstall()
                self._guard = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v{discord.http.INTERNAL_API_VERSION}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def resume_gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway-resume"

    async def start_bot(self, bot: discord.Client, token: str = "fake-token", *, ready_timeout: float = 10.0) -> "asyncio.Task[None]":
        """Start ``bot.start(token)`` in a task and wait until READY/GUILD_CREATE were sent.

        If the bot fails to start (bad token, close 4014 ...) its own exception is re-raised, after
        ``bot.close()``: discord.py raises LoginFailure / PrivilegedIntentsRequired without closing
        its aiohttp session (client.py ``connect``: ``if exc.code == 4014: raise ...``).
        """
        self._bot = bot
        task = self._bot_task = asyncio.create_task(bot.start(token), name="fakediscord-bot")
        task.add_done_callback(lambda _t: self._notify())
        try:
            await self.wait_ready(timeout=ready_timeout)
        except BaseException as e:
            self._bot = None
            await bot.close()
            if not task.done():
                task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if isinstance(e, BotStopped) and e.exception is not None:
                raise e.exception
            raise
        return task

    async def stop_bot(self, timeout: float = 5.0) -> None:
        """``await bot.close()`` and wait for ``bot.start()`` to return; re-raises its exception."""
        if self._bot is None or self._bot_task is None:
            return
        bot, task = self._bot, self._bot_task
        self._bot = None
        await asyncio.wait_for(bot.close(), timeout)
        await asyncio.wait_for(task, timeout)

    # ---------------------------------------------------------------------------------
    # ids, guild contents
    # ---------------------------------------------------------------------------------

    def new_id(self) -> int:
        """A fresh snowflake (strictly increasing, with a real timestamp)."""
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        candidate = (ms << 22) | (1 << 17) | (next(self._increment) & 0xFFF)
        if candidate <= self._last_snowflake:
            candidate = self._last_snowflake + 1
        self._last_snowflake = candidate
        return candidate

    def add_role(self, name: str, permissions: int = 0) -> int:
        """Create a role; returns its id.  Dispatches GUILD_ROLE_CREATE if the bot is connected."""
        role = RoleRecord(id=self.new_id(), name=name, permissions=int(permissions), position=len(self.roles))
        self.roles[role.id] = role
        self._dispatch_soon("GUILD_ROLE_CREATE", {"guild_id": str(self.guild_id), "role": role.payload()})
        return role.id

    def add_member(
        self,
        name: str = "alice",
        permissions: int = 0,
        roles: Sequence[int] = (),
        *,
        nick: Optional[str] = None,
        bot: bool = False,
    ) -> MemberRecord:
        """Add a guild member.  Their permissions are @everyone | roles | ``permissions``."""
        for r in roles:
            if r not in self.roles:
                raise KeyError(f"unknown role {r}; create it with add_role()")
        member = MemberRecord(id=self.new_id(), name=name, permissions=int(permissions), roles=list(roles), nick=nick, bot=bot)
        self.members[member.id] = member
        data = member.member_payload()
        data["guild_id"] = str(self.guild_id)
        self._dispatch_soon("GUILD_MEMBER_ADD", data, intent=INTENT_GUILD_MEMBERS)
        return member

    def add_channel(self, name: str, *, topic: Optional[str] = None) -> int:
        cid = self.new_id()
        self.channels[cid] = {
            "id": str(cid),
            "type": 0,
            "guild_id": str(getattr(self, "guild_id", 0)),
            "name": name,
            "topic": topic,
            "position": len(self.channels),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        if self._loop is not None:
            self._dispatch_soon("CHANNEL_CREATE", self.channels[cid])
        return cid

    @property
    def default_member(self) -> MemberRecord:
        if self._default_member is None:
            self._default_member = self.add_member("tester")
        return self._default_member

    def member_permissions(self, member: MemberRecord) -> int:
        perms = self.roles[self.guild_id].permissions | member.permissions
        for r in member.roles:
            if r in self.roles:
                perms |= self.roles[r].permissions
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    @property
    def bot_permissions(self) -> int:
        return self.member_permissions(self.bot_member)

    def guild_payload(self, *, intents: int) -> dict:
        if intents & INTENT_GUILD_MEMBERS:
            members = [m.member_payload() for m in self.members.values()]
        else:
            members = [self.bot_member.member_payload()]
        return {
            "id": str(self.guild_id),
            "name": self.guild_name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(self.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": self.bot_member.joined_at,
            "large": False,
            "unavailable": False,
            "member_count": len(self.members),
            "voice_states": [],
            "members": members,
            "channels": [dict(c) for c in self.channels.values()],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def bot_user_payload(self) -> dict:
        data = self.bot_member.user_payload()
        data.update({"bot": True, "verified": True, "mfa_enabled": False, "flags": 0, "email": None, "locale": "en-US"})
        return data

    def owner_payload(self) -> dict:
        return {"id": str(self.owner_id), "username": "owner", "discriminator": "0", "global_name": None, "avatar": None, "public_flags": 0}

    # ---------------------------------------------------------------------------------
    # waiting helpers
    # ---------------------------------------------------------------------------------

    def _notify(self) -> None:
        fut = self._change
        if self._loop is None or fut is None:
            return
        self._change = self._loop.create_future()
        if not fut.done():
            fut.set_result(None)

    async def _wait_until(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        assert self._loop is not None, "FakeDiscord is not running"
        deadline = self._loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            task = self._bot_task
            if task is not None and task.done() and self._bot is not None:
                exc = None if task.cancelled() else task.exception()
                raise BotStopped(f"the bot stopped while waiting for {what}: {exc!r}", exc) from exc
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                recent = ", ".join(repr(r) for r in self.requests[-8:])
                raise asyncio.TimeoutError(f"timed out after {timeout}s waiting for {what}; last requests: [{recent}]")
            fut = self._change
            assert fut is not None
            try:
                await asyncio.wait_for(asyncio.shield(fut), remaining)
            except asyncio.TimeoutError:
                pass

    def _all_shards_live(self) -> bool:
        n = self._expected_shards
        if n is None:
            return False
        shard_ids = {s.shard_index for s in self._shard_sessions.values()} if n > 1 else {0}
        sessions = [self._shard_sessions.get(i) for i in shard_ids]
        return bool(sessions) and all(s is not None and s.live for s in sessions)

    async def wait_ready(self, timeout: float = 10.0) -> None:
        """Wait until every shard has a live session (READY + GUILD_CREATE sent, or RESUMED sent)."""
        await self._wait_until(self._all_shards_live, timeout, "the bot to be connected (IDENTIFY/RESUME)")

    async def wait_request(self, method: str, path_regex: str, timeout: float = 5.0, *, after: int = 0) -> RequestRecord:
        """Wait for a REST request whose path fully matches ``path_regex`` (index >= ``after``)."""
        pat = re.compile(path_regex)

        def find() -> Optional[RequestRecord]:
            for r in self.requests[after:]:
                if r.method == method and pat.fullmatch(r.path) and r.status is not None:
                    return r
            return None

        return await self._wait_until(find, timeout, f"{method} {path_regex}")

    def requests_to(self, method: Optional[str] = None, path_regex: Optional[str] = None) -> List[RequestRecord]:
        pat = re.compile(path_regex) if path_regex else None
        return [r for r in self.requests if (method is None or r.method == method) and (pat is None or pat.fullmatch(r.path))]

    def gateway_events(self, shard: int = 0) -> List[str]:
        """Names of the DISPATCH events sent (or buffered) on the current session of ``shard``, in order."""
        session = self._shard_sessions.get(shard)
        if session is None:
            return []
        return [json.loads(frame)["t"] for _, frame in session.buffer]

    @property
    def heartbeats(self) -> List[float]:
        """time.monotonic() of every heartbeat received (all connections)."""
        return [h.at for h in self.heartbeat_log]

    def heartbeat_gaps(self) -> List[float]:
        """Gaps between consecutive heartbeats on the same connection."""
        gaps: List[float] = []
        by_conn: Dict[int, List[float]] = {}
        for h in self.heartbeat_log:
            by_conn.setdefault(h.connection, []).append(h.at)
        for times in by_conn.values():
            gaps.extend(b - a for a, b in zip(times, times[1:]))
        return gaps

    # ---------------------------------------------------------------------------------
    # commands
    # ---------------------------------------------------------------------------------

    def synced_commands(self, guild_id: Optional[int] = None) -> Optional[list]:
        """The latest bulk-overwrite (PUT) payload, as the bot sent it, for global (None) or a guild."""
        for gid, body in reversed(self.command_syncs):
            if gid == guild_id:
                return body
        return None

    def registered_commands(self, guild_id: Optional[int] = None) -> Dict[str, dict]:
        """Commands currently registered for the scope (name -> stored command with id)."""
        return {name: cmd for (name, _t), cmd in self._commands.get(guild_id, {}).items()}

    def _find_command(self, name: str, ctype: int = 1) -> Optional[dict]:
        for scope in (self.guild_id, None):
            cmd = self._commands.get(scope, {}).get((name, ctype))
            if cmd is not None:
                return cmd
        return None

    # ---------------------------------------------------------------------------------
    # user actions (gateway dispatches)
    # ---------------------------------------------------------------------------------

    def _check_channel(self, channel_id: Optional[int]) -> int:
        cid = channel_id or self.channel_id
        if cid not in self.channels:
            raise KeyError(f"unknown channel {cid}")
        return cid

    def _interaction_base(self, itype: int, user: MemberRecord, channel_id: int, locale: str) -> Tuple[InteractionRecord, dict]:
        iid = self.new_id()
        token = f"aW50ZXJhY3Rpb246{iid}:{secrets.token_urlsafe(24)}"
        perms = self.member_permissions(user)
        channel = dict(self.channels[channel_id])
        channel["permissions"] = str(perms)
        payload = {
            "id": str(iid),
            "application_id": str(self.app_id),
            "type": itype,
            "token": token,
            "version": 1,
            "guild_id": str(self.guild_id),
            "guild": {"id": str(self.guild_id), "locale": "en-US", "features": []},
            "channel_id": str(channel_id),
            "channel": channel,
            "member": user.member_payload(permissions=perms),
            "locale": locale,
            "guild_locale": "en-US",
            "app_permissions": str(self.bot_permissions),
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(self.guild_id)},
            "context": 0,
            "attachment_size_limit": 10 * 1024 * 1024,
        }
        rec = InteractionRecord(self, id=iid, token=token, type=itype, payload=payload, user=user)
        return rec, payload

    async def _dispatch_interaction(self, rec: InteractionRecord) -> InteractionRecord:
        self.interactions.append(rec)
        self._interactions_by_id[rec.id] = rec
        self._interactions_by_token[rec.token] = rec
        rec.dispatched_at = await self.dispatch("INTERACTION_CREATE", rec.payload, guild_id=self.guild_id)
        rec.last_activity = rec.dispatched_at
        return rec

    def _build_command_data(self, name: str, options: Optional[Dict[str, Any]], focused: Optional[str]) -> dict:
        parts = name.split()
        cmd = self._find_command(parts[0])
        options = dict(options or {})
        resolved: Dict[str, Dict[str, Any]] = {}
        if cmd is None:
            if self.require_registered_commands:
                known = sorted(n for scope in self._commands.values() for (n, _t) in scope)
                raise LookupError(f"/{parts[0]} is not registered with the fake Discord (registered: {known}); did the bot sync?")
            schema: Optional[List[dict]] = None
            data: Dict[str, Any] = {"id": str(self.new_id()), "name": parts[0], "type": 1}
        else:
            schema = cmd.get("options") or []
            data = {"id": cmd["id"], "name": cmd["name"], "type": 1}
            if cmd.get("guild_id"):
                data["guild_id"] = cmd["guild_id"]

        container = data
        for sub in parts[1:]:
            if schema is not None:
                match = next((o for o in schema if o["name"] == sub and o.get("type") in (OPT_SUB_COMMAND, OPT_SUB_COMMAND_GROUP)), None)
                if match is None:
                    raise LookupError(f"/{name}: no subcommand {sub!r}")
                sub_type = match["type"]
                schema = match.get("options") or []
            else:
                sub_type = OPT_SUB_COMMAND if sub == parts[-1] else OPT_SUB_COMMAND_GROUP
            node: Dict[str, Any] = {"name": sub, "type": sub_type, "options": []}
            container.setdefault("options", []).append(node)
            container = node

        built = []
        for opt_name, value in options.items():
            spec = None
            if schema is not None:
                spec = next((o for o in schema if o["name"] == opt_name), None)
                if spec is None:
                    raise ValueError(f"/{name} has no option {opt_name!r} (options: {[o['name'] for o in schema]})")
            built.append(self._build_option(name, opt_name, value, spec, resolved, partial=opt_name == focused))
        if schema is not None and focused is None:
            for spec in schema:
                if spec.get("required") and spec["name"] not in options:
                    raise ValueError(f"/{name}: required option {spec['name']!r} missing")
        if focused is not None:
            for o in built:
                if o["name"] == focused:
                    o["focused"] = True
                    o["value"] = str(o["value"]) if o["type"] in (OPT_INTEGER, OPT_NUMBER) else o["value"]
        if built:
            container["options"] = built
        elif container is data:
            data.setdefault("options", [])
        if resolved:
            data["resolved"] = resolved
        return data

    def _build_option(self, cmd: str, name: str, value: Any, spec: Optional[dict], resolved: dict, partial: bool) -> dict:
        if spec is not None:
            otype = spec["type"]
        elif isinstance(value, bool):
            otype = OPT_BOOLEAN
        elif isinstance(value, int):
            otype = OPT_INTEGER
        elif isinstance(value, float):
            otype = OPT_NUMBER
        elif isinstance(value, MemberRecord):
            otype = OPT_USER
        else:
            otype = OPT_STRING

        if otype in (OPT_USER, OPT_MENTIONABLE) and isinstance(value, MemberRecord):
            resolved.setdefault("users", {})[str(value.id)] = value.user_payload()
            resolved.setdefault("members", {})[str(value.id)] = value.member_payload(
                with_user=False, permissions=self.member_permissions(value)
            )
            out: Any = str(value.id)
        elif otype in (OPT_ROLE, OPT_MENTIONABLE) and int(value) in self.roles:
            resolved.setdefault("roles", {})[str(value)] = self.roles[int(value)].payload()
            out = str(value)
        elif otype == OPT_CHANNEL:
            cid = int(value)
            ch = dict(self.channels[cid])
            ch["permissions"] = str(ALL_PERMISSIONS)
            resolved.setdefault("channels", {})[str(cid)] = ch
            out = str(cid)
        elif otype == OPT_STRING:
            out = str(value)
        elif otype == OPT_INTEGER:
            out = value if partial and isinstance(value, str) else int(value)
        elif otype == OPT_NUMBER:
            out = value if partial and isinstance(value, str) else float(value)
        elif otype == OPT_BOOLEAN:
            out = bool(value)
        else:
            out = value

        if spec is not None and not partial:
            choices = spec.get("choices")
            if choices and out not in [c["value"] for c in choices]:
                raise ValueError(f"/{cmd} {name}: {out!r} is not one of {[c['value'] for c in choices]}")
            if otype == OPT_STRING:
                if "min_length" in spec and len(out) < spec["min_length"]:
                    raise ValueError(f"/{cmd} {name}: shorter than min_length {spec['min_length']}")
                if "max_length" in spec and len(out) > spec["max_length"]:
                    raise ValueError(f"/{cmd} {name}: longer than max_length {spec['max_length']}")
            if otype in (OPT_INTEGER, OPT_NUMBER):
                if spec.get("min_value") is not None and out < spec["min_value"]:
                    raise ValueError(f"/{cmd} {name}: below min_value {spec['min_value']}")
                if spec.get("max_value") is not None and out > spec["max_value"]:
                    raise ValueError(f"/{cmd} {name}: above max_value {spec['max_value']}")
        return {"name": name, "type": otype, "value": out}

    async def slash(
        self,
        name: str,
        options: Optional[Dict[str, Any]] = None,
        *,
        user: Optional[MemberRecord] = None,
        channel_id: Optional[int] = None,
        locale: str = "en-US",
    ) -> InteractionRecord:
        """Dispatch INTERACTION_CREATE for ``/name`` (``"group sub"`` for subcommands).

        Option types come from the synced command (validated like the Discord client
        would: required, choices, min/max); for a user option pass a MemberRecord.
        """
        user = user or self.default_member
        cid = self._check_channel(channel_id)
        data = self._build_command_data(name, options, focused=None)
        rec, payload = self._interaction_base(IT_COMMAND, user, cid, locale)
        payload["data"] = data
        return await self._dispatch_interaction(rec)

    async def autocomplete(
        self,
        name: str,
        options: Dict[str, Any],
        focused: str,
        *,
        user: Optional[MemberRecord] = None,
        channel_id: Optional[int] = None,
    ) -> InteractionRecord:
        """Dispatch an autocomplete interaction (type 4) with ``focused`` being typed."""
        user = user or self.default_member
        cid = self._check_channel(channel_id)
        data = self._build_command_data(name, options, focused=focused)
        rec, payload = self._interaction_base(IT_AUTOCOMPLETE, user, cid, "en-US")
        payload["data"] = data
        return await self._dispatch_interaction(rec)

    async def message_command(
        self,
        name: str,
        message: Union[dict, int, "UserMessageRecord"],
        *,
        user: Optional[MemberRecord] = None,
    ) -> InteractionRecord:
        """A message context-menu command (type 3) on a stored message, as "Apps → ``name``" sends it: the
        target message comes resolved in the interaction data, content included (no intent needed)."""
        if isinstance(message, UserMessageRecord):
            message = message.payload
        mid = int(message["id"]) if isinstance(message, dict) else int(message)
        target = self.messages.get(mid)
        if target is None:
            raise LookupError(f"message {mid} does not exist (deleted or never sent)")
        cmd = self._find_command(name, 3)
        if cmd is None:
            if self.require_registered_commands:
                raise LookupError(f"message command {name!r} is not registered with the fake Discord")
            data: Dict[str, Any] = {"id": str(self.new_id()), "name": name, "type": 3}
        else:
            data = {"id": cmd["id"], "name": cmd["name"], "type": 3}
            if cmd.get("guild_id"):
                data["guild_id"] = cmd["guild_id"]
        data["target_id"] = str(mid)
        data["resolved"] = {"messages": {str(mid): copy.deepcopy(target)}}
        rec, payload = self._interaction_base(IT_COMMAND, user or self.default_member, int(target["channel_id"]), "en-US")
        payload["data"] = data
        return await self._dispatch_interaction(rec)

    def dms(self, member: MemberRecord) -> List[dict]:
        """The messages the bot sent ``member`` privately (direct messages)."""
        cids = {str(cid) for cid, ch in self.dm_channels.items() if ch["recipients"][0]["id"] == str(member.id)}
        return [m for m in self.messages.values() if m["channel_id"] in cids]

    async def click(
        self,
        message: Union[dict, int, InteractionRecord],
        custom_id: str,
        *,
        user: Optional[MemberRecord] = None,
        values: Optional[List[str]] = None,
    ) -> InteractionRecord:
        """Dispatch a component interaction (button click / select) on a stored message."""
        if isinstance(message, InteractionRecord):
            message = message.message or {}
        mid = int(message["id"]) if isinstance(message, dict) else int(message)
        current = self.messages.get(mid)
        if current is None:
            raise LookupError(f"message {mid} does not exist (deleted or never sent)")
        component = next((c for c in _iter_components(current.get("components") or []) if c.get("custom_id") == custom_id), None)
        if component is None:
            ids = [c.get("custom_id") for c in _iter_components(current.get("components") or []) if c.get("custom_id")]
            raise LookupError(f"message {mid} has no component {custom_id!r} (has {ids})")
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled; a user cannot click it")
        user = user or self.default_member
        cid = int(current["channel_id"])
        rec, payload = self._interaction_base(IT_COMPONENT, user, cid, "en-US")
        data: Dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] in (3, 5, 6, 7, 8):
            data["values"] = list(values or [])
            data["resolved"] = {}
        payload["data"] = data
        payload["message"] = copy.deepcopy(current)
        rec.source_message_id = mid
        return await self._dispatch_interaction(rec)

    async def send_user_message(
        self,
        member: MemberRecord,
        content: str,
        *,
        channel_id: Optional[int] = None,
        mention_bot: bool = False,
    ) -> UserMessageRecord:
        """A user posts ``content`` (MESSAGE_CREATE; intents are applied like Discord does)."""
        cid = self._check_channel(channel_id)
        if mention_bot and f"<@{self.bot_user_id}>" not in content:
            content = f"<@{self.bot_user_id}> {content}"
        mid = self.new_id()
        mentioned = [int(x) for x in re.findall(r"<@!?(\d+)>", content)]
        mentions = []
        for uid in dict.fromkeys(mentioned):
            m = self.members.get(uid)
            if m is not None:
                u = m.user_payload()
                u["member"] = m.member_payload(with_user=False)
                mentions.append(u)
        payload = {
            "id": str(mid),
            "type": 0,
            "channel_id": str(cid),
            "guild_id": str(self.guild_id),
            "author": member.user_payload(),
            "member": member.member_payload(with_user=False),
            "content": content,
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": mentions,
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "flags": 0,
            "nonce": str(mid),
        }
        self.messages[mid] = payload
        rec = UserMessageRecord(self, payload)
        self.user_messages[mid] = rec

        def transform(data: dict, session: _Session) -> Optional[dict]:
            if not session.intents & INTENT_GUILD_MESSAGES:
                return None
            if not session.intents & INTENT_MESSAGE_CONTENT and self.bot_user_id not in mentioned:
                data = dict(data, content="", embeds=[], attachments=[], components=[])
            return data

        rec.dispatched_at = await self.dispatch("MESSAGE_CREATE", payload, guild_id=self.guild_id, transform=transform)
        return rec

    async def mention(self, member: MemberRecord, text: str, *, channel_id: Optional[int] = None) -> UserMessageRecord:
        """``member`` posts ``"<@bot> text"``."""
        return await self.send_user_message(member, f"<@{self.bot_user_id}> {text}", channel_id=channel_id)

    def channel_history(self, channel_id: Optional[int] = None) -> List[dict]:
        cid = str(channel_id or self.channel_id)
        return [m for m in self.messages.values() if m["channel_id"] == cid]

    async def wait_message(self, predicate: Callable[[dict], bool], timeout: float = 5.0) -> dict:
        """Wait for any stored message (user or bot) matching ``predicate``."""

        def find() -> Optional[dict]:
            for m in self.messages.values():
                if predicate(m):
                    return m
            return None

        return await self._wait_until(find, timeout, "a matching message")

    # ---------------------------------------------------------------------------------
    # gateway dispatch & faults
    # ---------------------------------------------------------------------------------

    def _shard_for(self, guild_id: Optional[int]) -> int:
        n = self._expected_shards or 1
        if guild_id is None or n <= 1:
            return 0
        return (guild_id >> 22) % n

    async def dispatch(
        self,
        event: str,
        data: dict,
        *,
        guild_id: Optional[int] = None,
        transform: Optional[Callable[[dict, _Session], Optional[dict]]] = None,
    ) -> float:
        """Send a DISPATCH (op 0) to the session owning ``guild_id``; buffered if it is disconnected.

        Returns the perf_counter() time it was handed to the socket (or buffered).
        Events queued earlier by add_member()/add_role()/add_channel() are sent first.
        """
        me = asyncio.current_task()
        earlier = [t for t in self._bg_tasks if t is not me and not t.done()]
        if earlier:
            await asyncio.gather(*earlier, return_exceptions=True)
        return await self._dispatch_now(event, data, guild_id=guild_id, transform=transform)

    async def _dispatch_now(
        self,
        event: str,
        data: dict,
        *,
        guild_id: Optional[int] = None,
        transform: Optional[Callable[[dict, _Session], Optional[dict]]] = None,
    ) -> float:
        session = self._shard_sessions.get(self._shard_for(guild_id))
        if session is None or session.invalid:
            raise RuntimeError(f"cannot dispatch {event}: the bot has no gateway session (call wait_ready first)")
        if transform is not None:
            data = transform(data, session)  # type: ignore[assignment]
            if data is None:
                return time.perf_counter()
        async with session.lock:
            session.seq += 1
            frame = _dumps({"op": 0, "t": event, "s": session.seq, "d": data})
            session.buffer.append((session.seq, frame))
            sent_at = time.perf_counter()
            if session.live and session.ws is not None and not session.ws.closed:
                try:
                    await session.ws.send_str(frame)
                except (ConnectionError, RuntimeError):
                    session.live = False
        return sent_at

    def _dispatch_soon(self, event: str, data: dict, *, intent: int = 0) -> None:
        """Fire-and-forget dispatch for sync helpers (add_member, add_role...) once connected."""
        if self._loop is None or not self._shard_sessions:
            return
        session = self._shard_sessions.get(self._shard_for(self.guild_id))
        if session is None or (intent and not session.intents & intent):
            return
        task = self._loop.create_task(self._dispatch_now(event, data, guild_id=self.guild_id))
        self._bg_tasks.add(task)
        task.add_done_callback(self._bg_tasks.discard)

    def fail_next(
        self,
        method: str,
        path_regex: str,
        *,
        status: Optional[int] = 429,
        retry_after: float = 0.2,
        count: int = 1,
        is_global: bool = False,
        delay: float = 0.0,
        body: Optional[dict] = None,
        via: bool = True,
    ) -> Fault:
        """Make the next ``count`` matching REST requests fail.

        ``path_regex`` must fully match the path without the ``/api/v10`` prefix.
        status=429 answers Discord's rate-limit body (``retry_after``, ``global``) with a
        ``Via`` header (without it discord.py treats a 429 as a Cloudflare ban and does not retry).
        status=None with ``delay`` only slows the request down, then serves it normally.
        """
        fault = Fault(
            method=method.upper(),
            pattern=re.compile(path_regex),
            status=status,
            retry_after=retry_after,
            count=count,
            is_global=is_global,
            delay=delay,
            body=body,
            via=via,
        )
        self.faults.append(fault)
        return fault

    def _take_fault(self, method: str, path: str) -> Optional[Fault]:
        for f in self.faults:
            if not f.exhausted and f.matches(method, path):
                f.hits += 1
                return f
        return None

    def _live_sessions(self) -> List[_Session]:
        return [s for s in self._shard_sessions.values() if s.live]

    async def drop_gateway(self, code: Optional[int] = None) -> None:
        """Close every live gateway connection.

        code=None: abort the TCP connection with no close frame (a network drop).
        Otherwise send a close frame with ``code`` (4000-4009 are resumable; 4004/4010-4014 are fatal).
        The session stays resumable; events dispatched meanwhile are replayed on RESUME.
        """
        for s in list(self._shard_sessions.values()):
            ws, req = s.ws, s.request
            s.live = False
            if ws is None:
                continue
            for conn in reversed(self.connections):
                if conn.session_id == s.id and conn.closed_at is None:
                    conn.close_code = 1006 if code is None else code
                    break
            if code is None:
                transport = req.transport if req is not None else None
                if transport is not None:
                    transport.abort()
            else:
                await ws.close(code=code, message=b"fakediscord drop")
        self._notify()

    async def request_reconnect(self) -> None:
        """Send op 7 RECONNECT on every live connection (the client should RESUME)."""
        for s in self._live_sessions():
            async with s.lock:
                s.live = False
                if s.ws is not None and not s.ws.closed:
                    await s.ws.send_str(_dumps({"op": 7, "d": None, "s": None, "t": None}))
        self._notify()

    async def invalidate_session(self, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION; with resumable=False the session is forgotten (client re-IDENTIFYs)."""
        for s in self._live_sessions():
            async with s.lock:
                s.live = False
                if not resumable:
                    s.invalid = True
                if s.ws is not None and not s.ws.closed:
                    await s.ws.send_str(_dumps({"op": 9, "d": resumable, "s": None, "t": None}))
        self._notify()

    async def request_heartbeat(self) -> None:
        """Send op 1 (server asks for an immediate heartbeat)."""
        for s in self._live_sessions():
            if s.ws is not None and not s.ws.closed:
                await s.ws.send_str(_dumps({"op": 1, "d": s.seq, "s": None, "t": None}))

    # ---------------------------------------------------------------------------------
    # gateway server
    # ---------------------------------------------------------------------------------

    @staticmethod
    async def _close_ws(ws: web.WebSocketResponse, conn: GatewayConnection, code: int, message: bytes) -> None:
        conn.close_code = code
        await ws.close(code=code, message=message)

    async def _gateway_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=0, compress=False)
        await ws.prepare(request)
        conn = GatewayConnection(path=request.path, query=dict(request.query), opened_at=time.monotonic())
        self.connections.append(conn)
        conn_index = len(self.connections) - 1
        self._open_ws[id(ws)] = (ws, request)
        session: Optional[_Session] = None
        try:
            if request.query.get("encoding", "json") != "json":
                await self._close_ws(ws, conn, 4002, b"fakediscord only speaks encoding=json")
                return ws
            if request.query.get("v") not in (None, "9", "10"):
                await self._close_ws(ws, conn, 4012, b"Invalid API version")
                return ws
            await ws.send_str(_dumps({"op": 10, "d": {"heartbeat_interval": int(self.heartbeat_interval * 1000), "_trace": ["fakediscord"]}, "s": None, "t": None}))
            async for msg in ws:
                if msg.type is WSMsgType.BINARY:
                    await self._close_ws(ws, conn, 4002, b"binary frames are not supported")
                    break
                if msg.type is not WSMsgType.TEXT:
                    continue
                try:
                    frame = json.loads(msg.data)
                    op = frame["op"]
                except (ValueError, KeyError, TypeError):
                    await self._close_ws(ws, conn, 4002, b"Error while decoding payload")
                    break
                conn.received_ops.append(op)
                d = frame.get("d")
                if op == 1:
                    self.heartbeat_log.append(HeartbeatRecord(at=time.monotonic(), seq=d, connection=conn_index))
                    if self.ack_heartbeats and not ws.closed:
                        await ws.send_str(_dumps({"op": 11, "d": None, "s": None, "t": None}))
                    self._notify()
                elif op == 2:
                    if session is not None:
                        await self._close_ws(ws, conn, 4005, b"Already authenticated")
                        break
                    session = await self._identify(ws, request, conn, d or {})
                    if session is None:
                        break
                elif op == 6:
                    if session is not None:
                        await self._close_ws(ws, conn, 4005, b"Already authenticated")
                        break
                    session = await self._resume(ws, request, conn, d or {})
                elif op == 3:
                    if session is None:
                        await self._close_ws(ws, conn, 4003, b"Not authenticated")
                        break
                    self.presence_updates.append(d)
                elif op == 8:
                    if session is None:
                        await self._close_ws(ws, conn, 4003, b"Not authenticated")
                        break
                    await self._request_members(session, d or {})
                elif op == 4:
                    pass  # voice state update: ignored
                else:
                    await self._close_ws(ws, conn, 4001, b"Unknown opcode")
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._open_ws.pop(id(ws), None)
            conn.closed_at = time.monotonic()
            if conn.close_code is None:
                conn.close_code = ws.close_code
            if session is not None and session.ws is ws:
                session.ws = None
                session.request = None
                session.live = False
            self._notify()
        return ws

    async def _identify(self, ws: web.WebSocketResponse, request: web.Request, conn: GatewayConnection, d: dict) -> Optional[_Session]:
        self.identifies.append(d)
        conn.kind = "identify"
        token = d.get("token")
        if self.token is not None and token != self.token:
            await self._close_ws(ws, conn, 4004, b"Authentication failed.")
            return None
        intents = d.get("intents")
        if not isinstance(intents, int):
            await self._close_ws(ws, conn, 4013, b"Invalid intent(s).")
            return None
        if self.allowed_intents is not None and intents & PRIVILEGED_INTENTS & ~self.allowed_intents:
            await self._close_ws(ws, conn, 4014, b"Disallowed intent(s).")
            return None
        shard = d.get("shard")
        if shard is not None:
            if not (isinstance(shard, list) and len(shard) == 2 and 0 <= shard[0] < shard[1]):
                await self._close_ws(ws, conn, 4010, b"Invalid shard.")
                return None
            self._expected_shards = shard[1]
        else:
            self._expected_shards = 1
        session = _Session(secrets.token_hex(16), shard, intents, token)
        conn.session_id = session.id
        old = self._shard_sessions.get(session.shard_index)
        if old is not None:
            old.invalid = True
        self._sessions[session.id] = session
        self._shard_sessions[session.shard_index] = session
        async with session.lock:
            session.ws, session.request = ws, request
            ready = {
                "v": discord.http.INTERNAL_API_VERSION,
                "user": self.bot_user_payload(),
                "guilds": [],
                "session_id": session.id,
                "session_type": "normal",
                "resume_gateway_url": self.resume_gateway_url,
                "application": {"id": str(self.app_id), "flags": self.app_flags},
                "private_channels": [],
                "relationships": [],
                "presences": [],
                "guild_join_requests": [],
                "geo_ordered_rtc_regions": [],
                "user_settings": {},
                "auth": {},
                "_trace": ["fakediscord"],
            }
            if shard is not None:
                ready["shard"] = shard
            owns_guild = self._shard_for(self.guild_id) == session.shard_index
            if owns_guild:
                ready["guilds"].append({"id": str(self.guild_id), "unavailable": True})
            frames = [("READY", ready)]
            if owns_guild:
                frames.append(("GUILD_CREATE", self.guild_payload(intents=intents)))
            for event, data in frames:
                session.seq += 1
                frame = _dumps({"op": 0, "t": event, "s": session.seq, "d": data})
                session.buffer.append((session.seq, frame))
                await ws.send_str(frame)
            session.live = True
        self._notify()
        return session

    async def _resume(self, ws: web.WebSocketResponse, request: web.Request, conn: GatewayConnection, d: dict) -> Optional[_Session]:
        self.resumes.append(d)
        session = self._sessions.get(str(d.get("session_id")))
        seq = d.get("seq") or 0
        ok = (
            session is not None
            and not session.invalid
            and (self.token is None or d.get("token") == self.token)
            and d.get("token") == session.token
            and (not session.buffer or seq >= session.buffer[0][0] - 1)
        )
        if not ok or session is None:
            conn.kind = "resume-failed"
            await ws.send_str(_dumps({"op": 9, "d": False, "s": None, "t": None}))
            return None
        conn.kind = "resume"
        conn.session_id = session.id
        async with session.lock:
            old = session.ws
            if old is not None and old is not ws and not old.closed:
                await old.close(code=4000, message=b"session resumed elsewhere")
            session.ws, session.request = ws, request
            for s, frame in list(session.buffer):
                if s > seq:
                    await ws.send_str(frame)
            session.seq += 1
            frame = _dumps({"op": 0, "t": "RESUMED", "s": session.seq, "d": {"_trace": ["fakediscord"]}})
            session.buffer.append((session.seq, frame))
            await ws.send_str(frame)
            session.live = True
        self._notify()
        return session

    async def _request_members(self, session: _Session, d: dict) -> None:
        if not session.intents & INTENT_GUILD_MEMBERS:
            return
        members = list(self.members.values())
        if d.get("user_ids"):
            wanted = {int(x) for x in (d["user_ids"] if isinstance(d["user_ids"], list) else [d["user_ids"]])}
            members = [m for m in members if m.id in wanted]
        elif d.get("query"):
            members = [m for m in members if m.name.lower().startswith(str(d["query"]).lower())]
        limit = d.get("limit") or 0
        if limit:
            members = members[:limit]
        data: Dict[str, Any] = {
            "guild_id": str(d.get("guild_id", self.guild_id)),
            "members": [m.member_payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if d.get("nonce"):
            data["nonce"] = d["nonce"]
        await self.dispatch("GUILD_MEMBERS_CHUNK", data, guild_id=self.guild_id)

    # ---------------------------------------------------------------------------------
    # REST server
    # ---------------------------------------------------------------------------------

    async def _fallback_handler(self, request: web.Request) -> web.StreamResponse:
        rec = RequestRecord(request.method, request.path, dict(request.query), None, dict(request.headers), time.perf_counter(), status=404)
        self.requests.append(rec)
        self.unexpected.append(rec)
        self._notify()
        return _error(404, 0, "404: Not Found")

    async def _rest_handler(self, request: web.Request) -> web.StreamResponse:
        arrived = time.perf_counter()
        path = "/" + request.match_info["tail"]
        body: Any = None
        files: List[dict] = []
        ctype = request.headers.get("Content-Type", "")
        if request.can_read_body:
            if ctype.startswith("multipart/"):
                body, files = await self._read_multipart(request)
            else:
                raw = await request.read()
                if raw:
                    try:
                        body = json.loads(raw)
                    except ValueError:
                        body = raw.decode(errors="replace")
        rec = RequestRecord(request.method, path, dict(request.query), body, dict(request.headers), arrived, files=files)
        self.requests.append(rec)
        try:
            response = await self._serve(request, rec, path, body, files, arrived)
        except Exception as e:  # a harness bug must be visible, not a hang
            log.exception("fakediscord handler crashed for %s %s", request.method, path)
            response = _error(500, 0, f"fakediscord internal error: {e!r}")
        rec.status = response.status
        self._notify()
        return response

    async def _read_multipart(self, request: web.Request) -> Tuple[Any, List[dict]]:
        body: Any = None
        files: List[dict] = []
        reader = await request.multipart()
        async for part in reader:  # type: ignore[union-attr]
            data = await part.read()  # type: ignore[union-attr]
            if part.name == "payload_json":  # type: ignore[union-attr]
                body = json.loads(data)
            else:
                files.append({"field": part.name, "filename": part.filename, "size": len(data), "content_type": part.headers.get("Content-Type")})  # type: ignore[union-attr]
        return body, files

    async def _serve(self, request: web.Request, rec: RequestRecord, path: str, body: Any, files: List[dict], arrived: float) -> web.Response:
        fault = self._take_fault(request.method, path)
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                rec.fault = f"injected {fault.status}"
                return self._fault_response(fault)
        for method, pattern, handler in self._routes:
            if method != request.method:
                continue
            m = pattern.fullmatch(path)
            if m is None:
                continue
            if not self._is_webhook_route(path) and self.token is not None:
                if request.headers.get("Authorization") != f"Bot {self.token}":
                    return _error(401, 0, "401: Unauthorized")
            return await handler(request, rec, body, files, arrived, **m.groupdict())
        self.unexpected.append(rec)
        return _error(404, 0, "404: Not Found")

    @staticmethod
    def _is_webhook_route(path: str) -> bool:
        return path.startswith("/interactions/") or path.startswith("/webhooks/")

    def _fault_response(self, fault: Fault) -> web.Response:
        status = fault.status or 500
        headers: Dict[str, str] = {}
        if status == 429:
            body = fault.body or {
                "message": "You are being rate limited.",
                "retry_after": fault.retry_after,
                "global": fault.is_global,
                "code": 0,
            }
            headers["Retry-After"] = str(max(1, int(round(fault.retry_after))))
            headers["X-RateLimit-Scope"] = "global" if fault.is_global else "user"
            if fault.is_global:
                headers["X-RateLimit-Global"] = "true"
            if fault.via:
                headers["Via"] = "1.1 google"
        else:
            body = fault.body or {"message": f"{status}: fakediscord injected error", "code": 0}
        return _json_response(body, status=status, headers=headers)

    def _build_routes(self) -> None:
        S = r"(?P<{}>\d+)"
        T = r"(?P<token>[^/]+)"
        app = S.format("app")
        routes = [
            ("GET", r"/users/@me", self._r_me),
            ("GET", r"/applications/@me", self._r_app),
            ("GET", r"/oauth2/applications/@me", self._r_app),
            ("GET", r"/gateway", self._r_gateway),
            ("GET", r"/gateway/bot", self._r_gateway_bot),
            ("GET", rf"/applications/{app}/commands", self._r_get_commands),
            ("PUT", rf"/applications/{app}/commands", self._r_put_commands),
            ("POST", rf"/applications/{app}/commands", self._r_post_command),
            ("GET", rf"/applications/{app}/guilds/{S.format('guild')}/commands", self._r_get_commands),
            ("PUT", rf"/applications/{app}/guilds/{S.format('guild')}/commands", self._r_put_commands),
            ("POST", rf"/applications/{app}/guilds/{S.format('guild')}/commands", self._r_post_command),
            ("DELETE", rf"/applications/{app}/commands/{S.format('cmd')}", self._r_delete_command),
            ("DELETE", rf"/applications/{app}/guilds/{S.format('guild')}/commands/{S.format('cmd')}", self._r_delete_command),
            ("POST", rf"/interactions/{S.format('iid')}/{T}/callback", self._r_callback),
            ("GET", rf"/webhooks/{app}/{T}/messages/(?P<mid>@original|\d+)", self._r_wh_get),
            ("PATCH", rf"/webhooks/{app}/{T}/messages/(?P<mid>@original|\d+)", self._r_wh_patch),
            ("DELETE", rf"/webhooks/{app}/{T}/messages/(?P<mid>@original|\d+)", self._r_wh_delete),
            ("POST", rf"/webhooks/{app}/{T}", self._r_wh_post),
            ("POST", r"/users/@me/channels", self._r_create_dm),
            ("GET", rf"/channels/{S.format('channel')}", self._r_get_channel),
            ("POST", rf"/channels/{S.format('channel')}/messages", self._r_create_message),
            ("GET", rf"/channels/{S.format('channel')}/messages/{S.format('mid')}", self._r_get_message),
            ("PATCH", rf"/channels/{S.format('channel')}/messages/{S.format('mid')}", self._r_edit_message),
            ("DELETE", rf"/channels/{S.format('channel')}/messages/{S.format('mid')}", self._r_delete_message),
            ("POST", rf"/channels/{S.format('channel')}/typing", self._r_typing),
            ("PUT", rf"/channels/{S.format('channel')}/messages/{S.format('mid')}/reactions/(?P<emoji>[^/]+)/@me", self._r_reaction),
            ("DELETE", rf"/channels/{S.format('channel')}/messages/{S.format('mid')}/reactions/(?P<emoji>[^/]+)/@me", self._r_reaction),
        ]
        self._routes = [(m, re.compile(p), h) for m, p, h in routes]

    # -- misc routes ----------------------------------------------------------------------

    async def _r_me(self, request, rec, body, files, arrived) -> web.Response:
        return _json_response(self.bot_user_payload())

    async def _r_app(self, request, rec, body, files, arrived) -> web.Response:
        return _json_response(
            {
                "id": str(self.app_id),
                "name": self.bot_name,
                "icon": None,
                "description": "",
                "summary": "",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "bot": self.bot_user_payload(),
                "owner": self.owner_payload(),
                "team": None,
                "verify_key": "0" * 64,
                "flags": self.app_flags,
                "hook": True,
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "approximate_guild_count": 1,
                "integration_types_config": {"0": {}},
            }
        )

    async def _r_gateway(self, request, rec, body, files, arrived) -> web.Response:
        return _json_response({"url": self.gateway_url})

    async def _r_gateway_bot(self, request, rec, body, files, arrived) -> web.Response:
        return _json_response(
            {
                "url": self.gateway_url,
                "shards": self.shard_count,
                "session_start_limit": {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1},
            }
        )

    # -- commands ---------------------------------------------------------------------

    def _scope(self, app: str, guild: Optional[str]) -> Tuple[Optional[int], Optional[web.Response]]:
        if int(app) != self.app_id:
            return None, _error(403, 50001, "Missing Access")
        if guild is not None and int(guild) != self.guild_id:
            return None, _error(404, 10004, "Unknown Guild")
        return (int(guild) if guild is not None else None), None

    def _store_command(self, scope: Optional[int], cmd: dict) -> dict:
        ctype = cmd.get("type", 1)
        key = (scope, cmd["name"], ctype)
        cid = self._command_ids.setdefault(key, self.new_id())
        stored = copy.deepcopy(cmd)
        stored.update(
            {
                "id": str(cid),
                "application_id": str(self.app_id),
                "version": str(self.new_id()),
                "type": ctype,
                "description": cmd.get("description", ""),
                "default_member_permissions": (
                    None if cmd.get("default_member_permissions") is None else str(cmd["default_member_permissions"])
                ),
                "nsfw": cmd.get("nsfw", False),
            }
        )
        if scope is not None:
            stored["guild_id"] = str(scope)
        self._commands.setdefault(scope, {})[(cmd["name"], ctype)] = stored
        return stored

    async def _r_get_commands(self, request, rec, body, files, arrived, app, guild=None) -> web.Response:
        scope, err = self._scope(app, guild)
        if err:
            return err
        return _json_response(list(self._commands.get(scope, {}).values()))

    async def _r_put_commands(self, request, rec, body, files, arrived, app, guild=None) -> web.Response:
        scope, err = self._scope(app, guild)
        if err:
            return err
        if not isinstance(body, list):
            return _form_error({"_errors": [{"code": "BASE_TYPE_ARRAY", "message": "Must be an array."}]})
        errors = validate_commands(body)
        if errors:
            return _form_error(errors)
        self.command_syncs.append((scope, copy.deepcopy(body)))
        self._commands[scope] = {}
        stored = [self._store_command(scope, c) for c in body]
        return _json_response(stored)

    async def _r_post_command(self, request, rec, body, files, arrived, app, guild=None) -> web.Response:
        scope, err = self._scope(app, guild)
        if err:
            return err
        errors = validate_commands([body])
        if errors:
            return _form_error(errors["0"] if "0" in errors else errors)
        return _json_response(self._store_command(scope, body), status=201)

    async def _r_delete_command(self, request, rec, body, files, arrived, app, cmd, guild=None) -> web.Response:
        scope, err = self._scope(app, guild)
        if err:
            return err
        commands = self._commands.get(scope, {})
        for key, stored in list(commands.items()):
            if stored["id"] == cmd:
                del commands[key]
                return web.Response(status=204)
        return _error(404, 10063, "Unknown application command")

    # -- interactions -----------------------------------------------------------------

    def _new_message(self, *, channel_id: int, body: dict, mtype: int, author: Optional[dict] = None, extra: Optional[dict] = None) -> dict:
        mid = self.new_id()
        msg: Dict[str, Any] = {
            "id": str(mid),
            "type": mtype,
            "channel_id": str(channel_id),
            "guild_id": str(self.guild_id),
            "author": author or self.bot_member.user_payload() | {"bot": True},
            "content": "",
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "tts": bool(body.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "components": [],
            "pinned": False,
            "flags": 0,
        }
        if extra:
            msg.update(extra)
        if channel_id in self.dm_channels:
            del msg["guild_id"]
        self._apply_body(msg, body, files=None, creating=True)
        self.messages[mid] = msg
        self._record_pings(msg, body)
        return msg

    def _apply_body(self, msg: dict, body: dict, *, files: Optional[List[dict]], creating: bool) -> None:
        if "content" in body:
            msg["content"] = body["content"] or ""
        if "embeds" in body:
            msg["embeds"] = copy.deepcopy(body["embeds"] or [])
        if "components" in body:
            msg["components"] = copy.deepcopy(body["components"] or [])
        if "poll" in body and body["poll"] is not None:
            msg["poll"] = copy.deepcopy(body["poll"])
        if "flags" in body and body["flags"] is not None:
            keep = msg.get("flags", 0) & (FLAG_EPHEMERAL | FLAG_LOADING) if not creating else 0
            msg["flags"] = keep | int(body["flags"])
        if "attachments" in body and body["attachments"] is not None:
            kept = []
            for a in body["attachments"]:
                if "url" in a:
                    kept.append(a)
                else:
                    kept.append(
                        {
                            "id": str(a.get("id", self.new_id())),
                            "filename": a.get("filename", "file"),
                            "size": 0,
                            "url": f"http://127.0.0.1:{self.port}/attachments/{a.get('filename', 'file')}",
                            "proxy_url": f"http://127.0.0.1:{self.port}/attachments/{a.get('filename', 'file')}",
                        }
                    )
            msg["attachments"] = kept
        for f in files or []:
            for a in msg["attachments"]:
                if a.get("filename") == f["filename"]:
                    a["size"] = f["size"]
        if not creating:
            msg["edited_timestamp"] = _now_iso()

    def _record_pings(self, msg: dict, body: dict) -> None:
        content = msg.get("content") or ""
        am = body.get("allowed_mentions")
        parse = set(am.get("parse", [])) if isinstance(am, dict) else {"users", "roles", "everyone"}
        users = [int(x) for x in re.findall(r"<@!?(\d+)>", content)]
        roles = [int(x) for x in re.findall(r"<@&(\d+)>", content)]
        allowed_users = {int(x) for x in (am or {}).get("users", [])} if isinstance(am, dict) else set()
        allowed_roles = {int(x) for x in (am or {}).get("roles", [])} if isinstance(am, dict) else set()
        pinged_users = [u for u in users if "users" in parse or u in allowed_users]
        ref = msg.get("referenced_message")
        if ref and (am is None or am.get("replied_user")):
            pinged_users.append(int(ref["author"]["id"]))
        self.pings[int(msg["id"])] = {
            "users": list(dict.fromkeys(pinged_users)),
            "roles": [r for r in roles if "roles" in parse or r in allowed_roles],
            "everyone": "everyone" in parse and ("@everyone" in content or "@here" in content),
        }

    def _interaction_metadata(self, it: InteractionRecord) -> dict:
        meta: Dict[str, Any] = {
            "id": str(it.id),
            "type": it.type,
            "user": it.user.user_payload(),
            "authorizing_integration_owners": {"0": str(self.guild_id)},
        }
        if it.type == IT_COMMAND:
            meta["name"] = (it.payload.get("data") or {}).get("name")
            meta["command_type"] = 1
        if it.source_message_id is not None:
            meta["interacted_message_id"] = str(it.source_message_id)
        return meta

    def _interaction_message_extra(self, it: InteractionRecord) -> dict:
        return {"webhook_id": str(self.app_id), "application_id": str(self.app_id), "interaction_metadata": self._interaction_metadata(it)}

    def _check_message_body(self, body: Any, *, partial: bool, allow_flags: int) -> Optional[web.Response]:
        if not isinstance(body, dict):
            return _form_error({"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Only dictionaries may be used in a DictType"}]})
        if not self.validate_messages:
            return None
        errors = validate_message(body, partial=partial, allow_flags=allow_flags)
        if errors == "empty":
            return _error(400, 50006, "Cannot send an empty message")
        if errors:
            return _form_error(errors)
        return None

    async def _r_callback(self, request, rec, body, files, arrived, iid, token) -> web.Response:
        it = self._interactions_by_id.get(int(iid))
        if it is None or it.token != token:
            return _error(404, 10062, "Unknown interaction")
        if self.interaction_deadline is not None and arrived - it.dispatched_at > self.interaction_deadline:
            it.expired = True
            return _error(404, 10062, "Unknown interaction")
        if it.acked:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        if not isinstance(body, dict) or "type" not in body:
            return _form_error({"type": _field_error("BASE_TYPE_REQUIRED", "This field is required")})
        cb = body["type"]
        if cb not in _ALLOWED_CALLBACKS.get(it.type, set()):
            return _error(400, 50035, "Invalid Form Body", {"type": _field_error("INTERACTION_CALLBACK_TYPE_INVALID", f"callback type {cb} is not valid for interaction type {it.type}")})
        data = body.get("data") or {}
        channel_id = int(it.payload["channel_id"])
        resource_message: Optional[dict] = None
        if cb == CB_MESSAGE:
            err = self._check_message_body(data, partial=False, allow_flags=FLAG_EPHEMERAL | FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2)
            if err:
                return err
            mtype = 20 if it.type == IT_COMMAND else 19
            resource_message = self._new_message(channel_id=channel_id, body=data, mtype=mtype, extra=self._interaction_message_extra(it))
            it.message_id = int(resource_message["id"])
        elif cb == CB_DEFERRED_MESSAGE:
            flags = FLAG_LOADING | (int(data.get("flags", 0)) & FLAG_EPHEMERAL)
            mtype = 20 if it.type == IT_COMMAND else 19
            resource_message = self._new_message(channel_id=channel_id, body={"flags": flags}, mtype=mtype, extra=self._interaction_message_extra(it))
            it.message_id = int(resource_message["id"])
            it.loading = True
        elif cb == CB_DEFERRED_UPDATE:
            it.message_id = it.source_message_id
        elif cb == CB_UPDATE:
            err = self._check_message_body(data, partial=True, allow_flags=FLAG_SUPPRESS_EMBEDS | FLAG_COMPONENTS_V2)
            if err:
                return err
            it.message_id = it.source_message_id
            msg = self.messages.get(it.message_id or 0)
            if msg is None:
                return _error(404, 10008, "Unknown Message")
            self._apply_body(msg, data, files=files, creating=False)
            self._record_pings(msg, data)
            resource_message = msg
        elif cb == CB_AUTOCOMPLETE:
            choices = data.get("choices")
            if not isinstance(choices, list) or len(choices) > 25:
                return _form_error({"data": {"choices": _field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")}})
            it.choices = choices
        elif cb == CB_MODAL:
            it.modal = data
        it.callbacks.append(body)
        it.response_type = cb
        it.response_at = arrived
        it._touch(post_ack=False)
        with_response = request.query.get("with_response", "").lower() in ("1", "true")
        if not with_response:
            return web.Response(status=204)
        interaction = {
            "id": str(it.id),
            "type": it.type,
            "response_message_loading": cb == CB_DEFERRED_MESSAGE,
            "response_message_ephemeral": bool(resource_message and resource_message.get("flags", 0) & FLAG_EPHEMERAL),
        }
        if it.message_id is not None:
            interaction["response_message_id"] = str(it.message_id)
        resource: Dict[str, Any] = {"type": cb}
        if resource_message is not None:
            resource["message"] = copy.deepcopy(resource_message)
        return _json_response({"interaction": interaction, "resource": resource})

    def _webhook_interaction(self, app: str, token: str) -> Tuple[Optional[InteractionRecord], Optional[web.Response]]:
        it = self._interactions_by_token.get(token)
        if it is None or int(app) != self.app_id:
            return None, _error(404, 10015, "Unknown Webhook")
        if not it.acked:
            return None, _error(404, 10015, "Unknown Webhook")
        if time.perf_counter() - it.dispatched_at > self.followup_window:
            return None, _error(401, 50027, "Invalid Webhook Token")
        return it, None

    def _webhook_message_id(self, it: InteractionRecord, mid: str) -> Optional[int]:
        if mid == "@original":
            if it.original_deleted:
                return None
            return it.message_id
        m = int(mid)
        if m == it.message_id or m in it.followup_ids:
            return m
        return None

    async def _r_wh_get(self, request, rec, body, files, arrived, app, token, mid) -> web.Response:
        it, err = self._webhook_interaction(app, token)
        if err or it is None:
            return err  # type: ignore[return-value]
        m = self._webhook_message_id(it, mid)
        if m is None or m not in self.messages:
            return _error(404, 10008, "Unknown Message")
        return _json_response(self.messages[m])

    async def _r_wh_patch(self, request, rec, body, files, arrived, app, token, mid) -> web.Response:
        it, err = self._webhook_interaction(app, token)
        if err or it is None:
            return err  # type: ignore[return-value]
        m = self._webhook_message_id(it, mid)
        if m is None or m not in self.messages:
            return _error(404, 10008, "Unknown Message")
        err = self._check_message_body(body, partial=True, allow_flags=FLAG_SUPPRESS_EMBEDS | FLAG_COMPONENTS_V2)
        if err:
            return err
        msg = self.messages[m]
        if m == it.message_id and it.loading:
            it.loading = False
            msg["flags"] = msg.get("flags", 0) & ~FLAG_LOADING
        self._apply_body(msg, body, files=files, creating=False)
        self._record_pings(msg, body)
        if m == it.message_id:
            it.edits.append(body)
        it._touch()
        return _json_response(msg)

    async def _r_wh_delete(self, request, rec, body, files, arrived, app, token, mid) -> web.Response:
        it, err = self._webhook_interaction(app, token)
        if err or it is None:
            return err  # type: ignore[return-value]
        m = self._webhook_message_id(it, mid)
        if m is None or m not in self.messages:
            return _error(404, 10008, "Unknown Message")
        del self.messages[m]
        if m == it.message_id:
            it.original_deleted = True
            it.loading = False
        it._touch()
        return web.Response(status=204)

    async def _r_wh_post(self, request, rec, body, files, arrived, app, token) -> web.Response:
        it, err = self._webhook_interaction(app, token)
        if err or it is None:
            return err  # type: ignore[return-value]
        err = self._check_message_body(body, partial=False, allow_flags=FLAG_EPHEMERAL | FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2)
        if err:
            return err
        it.followup_bodies.append(body)
        if it.loading and it.message_id in self.messages:
            # Discord: the first followup after a type-5 defer replaces the "thinking" message
            # and keeps the ephemeral setting chosen when deferring.
            msg = self.messages[it.message_id]  # type: ignore[index]
            it.loading = False
            flags = msg.get("flags", 0) & FLAG_EPHEMERAL
            self._apply_body(msg, {k: v for k, v in body.items() if k != "flags"}, files=files, creating=False)
            msg["flags"] = flags | (int(body.get("flags") or 0) & ~FLAG_EPHEMERAL)
            msg["edited_timestamp"] = None
            self._record_pings(msg, body)
        else:
            extra = self._interaction_message_extra(it)
            if it.message_id is not None:
                extra["interaction_metadata"]["original_response_message_id"] = str(it.message_id)
            msg = self._new_message(channel_id=int(it.payload["channel_id"]), body=body, mtype=0, extra=extra)
            self._apply_body(msg, {}, files=files, creating=True)
            it.followup_ids.append(int(msg["id"]))
        it._touch()
        if request.query.get("wait", "").lower() in ("1", "true"):
            return _json_response(msg)
        return web.Response(status=204)

    # -- channels ---------------------------------------------------------------------

    def _channel(self, channel: str) -> Optional[dict]:
        return self.channels.get(int(channel)) or self.dm_channels.get(int(channel))

    async def _r_create_dm(self, request, rec, body, files, arrived) -> web.Response:
        uid = int((body or {}).get("recipient_id", 0))
        member = self.members.get(uid)
        if member is None:
            return _error(400, 50035, "Invalid Form Body")
        for ch in self.dm_channels.values():
            if ch["recipients"][0]["id"] == str(uid):
                return _json_response(ch)
        cid = self.new_id()
        self.dm_channels[cid] = {"id": str(cid), "type": 1, "last_message_id": None,
                                 "recipients": [member.user_payload()]}
        return _json_response(self.dm_channels[cid])

    async def _r_get_channel(self, request, rec, body, files, arrived, channel) -> web.Response:
        ch = self._channel(channel)
        if ch is None:
            return _error(404, 10003, "Unknown Channel")
        return _json_response(ch)

    async def _r_create_message(self, request, rec, body, files, arrived, channel) -> web.Response:
        ch = self._channel(channel)
        if ch is None:
            return _error(404, 10003, "Unknown Channel")
        perms = self.bot_permissions
        needed = discord.Permissions(view_channel=True, send_messages=True).value
        if perms & needed != needed:
            return _error(403, 50013, "Missing Permissions")
        body = body if body is not None else {}
        if files and isinstance(body, dict) and "attachments" not in body:
            body["attachments"] = [{"id": i, "filename": f["filename"]} for i, f in enumerate(files)]
        err = self._check_message_body(body, partial=False, allow_flags=FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2)
        if err:
            return err
        extra: Dict[str, Any] = {}
        mtype = 0
        ref = body.get("message_reference")
        ref_id: Optional[int] = None
        if ref:
            ref_id = int(ref.get("message_id", 0))
            target = self.messages.get(ref_id)
            if target is None:
                if ref.get("fail_if_not_exists", True):
                    return _form_error({"message_reference": _field_error("REPLIES_UNKNOWN_MESSAGE", "Unknown message")})
                ref_id = None
            else:
                mtype = 19
                extra["message_reference"] = {"type": 0, "message_id": str(ref_id), "channel_id": target["channel_id"], "guild_id": str(self.guild_id)}
                extra["referenced_message"] = {k: v for k, v in target.items() if k != "referenced_message"}
        msg = self._new_message(channel_id=int(channel), body=body, mtype=mtype, extra=extra)
        self._apply_body(msg, {}, files=files, creating=True)
        if ref_id is not None and ref_id in self.user_messages:
            um = self.user_messages[ref_id]
            um.reply_ids.append(int(msg["id"]))
            um.reply_bodies.append(body)
            if um.reply_at is None:
                um.reply_at = arrived
        return _json_response(msg)

    def _channel_message(self, channel: str, mid: str) -> Optional[dict]:
        msg = self.messages.get(int(mid))
        if msg is None or msg["channel_id"] != str(int(channel)):
            return None
        return msg

    async def _r_get_message(self, request, rec, body, files, arrived, channel, mid) -> web.Response:
        msg = self._channel_message(channel, mid)
        if msg is None:
            return _error(404, 10008, "Unknown Message")
        return _json_response(msg)

    async def _r_edit_message(self, request, rec, body, files, arrived, channel, mid) -> web.Response:
        msg = self._channel_message(channel, mid)
        if msg is None:
            return _error(404, 10008, "Unknown Message")
        if msg["author"]["id"] != str(self.bot_user_id):
            return _error(403, 50005, "Cannot edit a message authored by another user")
        err = self._check_message_body(body, partial=True, allow_flags=FLAG_SUPPRESS_EMBEDS | FLAG_COMPONENTS_V2)
        if err:
            return err
        self._apply_body(msg, body, files=files, creating=False)
        self._record_pings(msg, body)
        return _json_response(msg)

    async def _r_delete_message(self, request, rec, body, files, arrived, channel, mid) -> web.Response:
        msg = self._channel_message(channel, mid)
        if msg is None:
            return _error(404, 10008, "Unknown Message")
        if msg["author"]["id"] != str(self.bot_user_id) and not self.bot_permissions & discord.Permissions(manage_messages=True).value:
            return _error(403, 50013, "Missing Permissions")
        del self.messages[int(mid)]
        return web.Response(status=204)

    async def _r_typing(self, request, rec, body, files, arrived, channel) -> web.Response:
        if self._channel(channel) is None:
            return _error(404, 10003, "Unknown Channel")
        return web.Response(status=204)

    async def _r_reaction(self, request, rec, body, files, arrived, channel, mid, emoji) -> web.Response:
        if self._channel_message(channel, mid) is None:
            return _error(404, 10008, "Unknown Message")
        return web.Response(status=204)


# --------------------------------------------------------------------------------------
# validation (Discord's documented limits)
# --------------------------------------------------------------------------------------

_COMMAND_NAME = re.compile(r"^[-_'\w\u0900-\u097F\u0E00-\u0E7F]{1,32}$")


def validate_commands(commands: List[Any]) -> dict:
    errors: Dict[str, Any] = {}
    if sum(1 for c in commands if isinstance(c, dict) and c.get("type", 1) == 1) > 100:
        errors["_errors"] = [{"code": "APPLICATION_COMMANDS_TOO_MANY", "message": "Maximum number of application commands reached (100)"}]
    seen = set()
    for i, cmd in enumerate(commands):
        e = _validate_command(cmd, top=True)
        if isinstance(cmd, dict):
            key = (cmd.get("name"), cmd.get("type", 1))
            if key in seen:
                e.setdefault("name", _field_error("APPLICATION_COMMANDS_DUPLICATE_NAME", f"Application command names must be unique: {key[0]}"))
            seen.add(key)
        if e:
            errors[str(i)] = e
    return errors


def _validate_command(cmd: Any, *, top: bool) -> dict:
    e: Dict[str, Any] = {}
    if not isinstance(cmd, dict):
        return {"_errors": [{"code": "DICT_TYPE_CONVERT", "message": "Only dictionaries may be used in a DictType"}]}
    name = cmd.get("name", "")
    ctype = cmd.get("type", 1) if top else 1
    if not isinstance(name, str) or not name:
        e["name"] = _field_error("BASE_TYPE_REQUIRED", "This field is required")
    elif ctype == 1 and (not _COMMAND_NAME.match(name) or name != name.lower()):
        e["name"] = _field_error("APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}")
    elif len(name) > 32:
        e["name"] = _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
    desc = cmd.get("description", "")
    if ctype == 1 and not (1 <= len(desc or "") <= 100):
        e["description"] = _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    options = cmd.get("options") or []
    if len(options) > 25:
        e["options"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    seen_optional = False
    names = set()
    for i, opt in enumerate(options):
        oe = _validate_command(dict(opt, type=1) if isinstance(opt, dict) else opt, top=False)
        if isinstance(opt, dict):
            if opt.get("name") in names:
                oe.setdefault("name", _field_error("APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS", "Option names must be unique"))
            names.add(opt.get("name"))
            if opt.get("type") not in (OPT_SUB_COMMAND, OPT_SUB_COMMAND_GROUP):
                if opt.get("required"):
                    if seen_optional:
                        oe.setdefault("required", _field_error("APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", "Required options must be placed before non-required options"))
                else:
                    seen_optional = True
            if len(opt.get("choices") or []) > 25:
                oe.setdefault("choices", _field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."))
        if oe:
            e.setdefault("options", {})[str(i)] = oe
    return e


def validate_message(body: dict, *, partial: bool, allow_flags: int) -> Union[dict, str, None]:
    e: Dict[str, Any] = {}
    content = body.get("content")
    if content is not None and len(str(content)) > 2000:
        e["content"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        e["embeds"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for i, emb in enumerate(embeds):
        ee: Dict[str, Any] = {}
        limits = {"title": 256, "description": 4096}
        for key, limit in limits.items():
            v = emb.get(key) or ""
            total += len(v)
            if len(v) > limit:
                ee[key] = _field_error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
        fields = emb.get("fields") or []
        if len(fields) > 25:
            ee["fields"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, f in enumerate(fields):
            fe: Dict[str, Any] = {}
            fname, fvalue = str(f.get("name") or ""), str(f.get("value") or "")
            total += len(fname) + len(fvalue)
            if not 1 <= len(fname) <= 256:
                fe["name"] = _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 256 in length.")
            if not 1 <= len(fvalue) <= 1024:
                fe["value"] = _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 1024 in length.")
            if fe:
                ee.setdefault("fields", {})[str(j)] = fe
        footer = (emb.get("footer") or {}).get("text") or ""
        author = (emb.get("author") or {}).get("name") or ""
        total += len(footer) + len(author)
        if len(footer) > 2048:
            ee["footer"] = {"text": _field_error("BASE_TYPE_MAX_LENGTH", "Must be 2048 or fewer in length.")}
        if len(author) > 256:
            ee["author"] = {"name": _field_error("BASE_TYPE_MAX_LENGTH", "Must be 256 or fewer in length.")}
        if ee:
            e.setdefault("embeds", {})[str(i)] = ee
    if total > 6000:
        e.setdefault("embeds", {})["_errors"] = [{"code": "MESSAGE_EMBEDS_TOO_LONG", "message": "Embed size exceeds maximum size of 6000"}]
    flags = int(body.get("flags") or 0)
    if flags & ~allow_flags:
        e["flags"] = _field_error("MESSAGE_INVALID_FLAGS", f"Invalid flags {flags & ~allow_flags}")
    components = body.get("components") or []
    v2 = bool(flags & FLAG_COMPONENTS_V2)
    if not v2 and len(components) > 5:
        e["components"] = _field_error("BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    custom_ids: List[str] = []
    for i, row in enumerate(components):
        if not v2:
            if row.get("type") != 1:
                e.setdefault("components", {})[str(i)] = _field_error("COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Top-level components must be action rows")
                continue
            children = row.get("components") or []
            if not 1 <= len(children) <= 5:
                e.setdefault("components", {})[str(i)] = {"components": _field_error("BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")}
        for c in _iter_components([row]):
            if c.get("type") == 2:
                if len(c.get("label") or "") > 80:
                    e.setdefault("components", {})[str(i)] = _field_error("BASE_TYPE_MAX_LENGTH", "Button label must be 80 or fewer in length.")
                if c.get("style") in (5, 6):
                    if c.get("custom_id"):
                        e.setdefault("components", {})[str(i)] = _field_error("COMPONENT_INVALID", "Link/premium buttons cannot have a custom_id")
                elif not c.get("custom_id"):
                    e.setdefault("components", {})[str(i)] = _field_error("BASE_TYPE_REQUIRED", "custom_id is required")
            if c.get("custom_id") is not None:
                cid = str(c["custom_id"])
                if len(cid) > 100:
                    e.setdefault("components", {})[str(i)] = _field_error("BASE_TYPE_MAX_LENGTH", "custom_id must be 100 or fewer in length.")
                custom_ids.append(cid)
    if len(custom_ids) != len(set(custom_ids)):
        e.setdefault("components", {})["_errors"] = [{"code": "COMPONENT_CUSTOM_ID_DUPLICATED", "message": "Component custom id cannot be duplicated"}]
    if e:
        return e
    if not partial:
        has_content = bool(content) or bool(embeds) or bool(components) or bool(body.get("attachments")) or bool(body.get("sticker_ids")) or bool(body.get("poll"))
        if not has_content:
            return "empty"
    return None
