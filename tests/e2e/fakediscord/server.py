"""FakeDiscord itself: the guild it serves (members, roles, channels), starting and stopping the loopback server
and the bot, and waiting for what the bot does. The gateway, REST, message and member halves are mixins."""

from __future__ import annotations

import asyncio
import itertools
import logging
import re
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import web

from .gateway import GatewayMixin, _Session
from .guard import _NetworkGuard
from .handlers import TaskLog
from .messages import MessagesMixin
from .protocol import (ADMINISTRATOR, ALL_PERMISSIONS, DEFAULT_BOT_PERMISSIONS, DEFAULT_EVERYONE_PERMISSIONS,
                       DISCORD_EPOCH_MS, INTENT_GUILD_MEMBERS)
from .records import (Fault, GatewayConnection, HeartbeatRecord, InteractionRecord, MemberRecord, RequestRecord,
                      RoleRecord, UserMessageRecord)
from .rest import RestMixin, _Handler
from .users import UsersMixin

log = logging.getLogger("fakediscord")


class BotStopped(RuntimeError):
    """The bot task started by :meth:`FakeDiscord.start_bot` ended while the harness was waiting."""

    def __init__(self, message: str, exception: Optional[BaseException]) -> None:
        super().__init__(message)
        self.exception = exception



class FakeDiscord(UsersMixin, GatewayMixin, RestMixin, MessagesMixin):
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
        self._tasks: Optional[TaskLog] = None
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
        self._tasks = TaskLog(self._loop)
        self._tasks.install()

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
            if self._tasks is not None:
                self._tasks.uninstall()
                self._tasks = None

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
        # discord.py dispatches on_ready ``guild_ready_timeout`` after the last GUILD_CREATE, from a task that
        # close() does not stop: a bot closed before then dispatches it on a closed client (AttributeError,
        # "Task exception was never retrieved"). A test done that quickly waits for start-up to finish.
        ready = getattr(getattr(bot, "_connection", None), "_ready_task", None)
        if isinstance(ready, asyncio.Task) and not ready.done():
            await asyncio.wait({ready}, timeout=timeout)
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
