"""What members do, as tests script it: slash commands, autocomplete, message commands, button clicks, messages
and mentions, each dispatched to the bot over the gateway the way Discord's client would send it."""

from __future__ import annotations

import copy
import re
import secrets
from typing import Any, Callable, Dict, List, Optional, Tuple, Union

from .gateway import _Session
from .protocol import (ALL_PERMISSIONS, INTENT_GUILD_MESSAGES, INTENT_MESSAGE_CONTENT, IT_AUTOCOMPLETE, IT_COMMAND,
                       IT_COMPONENT, OPT_BOOLEAN, OPT_CHANNEL, OPT_INTEGER, OPT_MENTIONABLE, OPT_NUMBER, OPT_ROLE,
                       OPT_STRING, OPT_SUB_COMMAND, OPT_SUB_COMMAND_GROUP, OPT_USER, message_payload)
from .records import InteractionRecord, MemberRecord, UserMessageRecord, _iter_components


class UsersMixin:
    """FakeDiscord's members acting: each helper builds the payload Discord would and dispatches it."""

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
        rec.tasks_mark = self._tasks.mark() if self._tasks is not None else None
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
        payload = message_payload(mid, mtype=0, channel_id=cid, guild_id=self.guild_id, author=member.user_payload(),
                                  member=member.member_payload(with_user=False), content=content, mentions=mentions)
        payload["nonce"] = str(mid)
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
