"""The REST server: one handler that records every request, applies injected faults and the token check, then
routes it; the route table; the application and command routes. Message, interaction and channel routes are
in messages.py."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

from aiohttp import web

from .limits import validate_commands
from .protocol import _error, _form_error, _json_response
from .records import Fault, RequestRecord

log = logging.getLogger("fakediscord")

_Handler = Callable[..., Awaitable[web.StreamResponse]]


class RestMixin:
    """FakeDiscord's REST half: the request handler, faults, the route table and the command routes."""

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

