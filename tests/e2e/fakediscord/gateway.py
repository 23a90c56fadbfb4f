"""The gateway: the websocket server (HELLO, IDENTIFY, RESUME, heartbeats, member requests), the sessions with
their sequence numbers and replay buffers, dispatching events to the bot, and the gateway faults tests inject
(drops, RECONNECT, INVALID_SESSION)."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, List, Optional, Tuple

import discord
import discord.http
from aiohttp import WSMsgType, web

from .protocol import INTENT_GUILD_MEMBERS, PRIVILEGED_INTENTS, _dumps
from .records import GatewayConnection, HeartbeatRecord


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


_Transform = Callable[[dict, _Session], Optional[dict]]
"""Rewrites an event for one session (intents), or drops it (None)."""



class GatewayMixin:
    """FakeDiscord's gateway half; its state (sessions, connections, heartbeat_log ...) is set up in
    ``FakeDiscord.__init__``."""

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
    def _shard_for(self, guild_id: Optional[int]) -> int:
        n = self._expected_shards or 1
        if guild_id is None or n <= 1:
            return 0
        return (guild_id >> 22) % n

    async def dispatch(self, event: str, data: dict, *, guild_id: Optional[int] = None,
                       transform: Optional[_Transform] = None) -> float:
        """Send a DISPATCH (op 0) to the session owning ``guild_id``; buffered if it is disconnected.

        Returns the perf_counter() time it was handed to the socket (or buffered).
        Events queued earlier by add_member()/add_role()/add_channel() are sent first.
        """
        me = asyncio.current_task()
        earlier = [t for t in self._bg_tasks if t is not me and not t.done()]
        if earlier:
            await asyncio.gather(*earlier, return_exceptions=True)
        return await self._dispatch_now(event, data, guild_id=guild_id, transform=transform)

    async def _dispatch_now(self, event: str, data: dict, *, guild_id: Optional[int] = None,
                            transform: Optional[_Transform] = None) -> float:
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
