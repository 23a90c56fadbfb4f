"""Messages: the interaction callback, the interaction webhooks (@original and followups) and the channel routes,
and the message store they share (creating, editing and validating messages, recording who they ping)."""

from __future__ import annotations

import copy
import re
import time
from typing import Any, Dict, List, Optional, Tuple

import discord
from aiohttp import web

from .limits import validate_message
from .protocol import (_ALLOWED_CALLBACKS, CB_AUTOCOMPLETE, CB_DEFERRED_MESSAGE, CB_DEFERRED_UPDATE, CB_MESSAGE, CB_MODAL,
                       CB_UPDATE, FLAG_COMPONENTS_V2, FLAG_EPHEMERAL, FLAG_LOADING, FLAG_SUPPRESS_EMBEDS,
                       FLAG_SUPPRESS_NOTIFICATIONS, IT_COMMAND, _error, _field_error, _form_error, _json_response,
                       _now_iso, message_payload)
from .records import InteractionRecord


class MessagesMixin:
    """FakeDiscord's message store and the routes that write it."""

    def _new_message(self, *, channel_id: int, body: dict, mtype: int, author: Optional[dict] = None, extra: Optional[dict] = None) -> dict:
        mid = self.new_id()
        msg = message_payload(mid, mtype=mtype, channel_id=channel_id, guild_id=self.guild_id,
                              author=author or self.bot_member.user_payload() | {"bot": True}, tts=bool(body.get("tts", False)))
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

    def _webhook_message(self, app: str, token: str, mid: str) -> Tuple[Optional[InteractionRecord], Optional[int], Optional[web.Response]]:
        """The interaction and the id of its message ``mid`` (@original or a followup id), or Discord's error."""
        it, err = self._webhook_interaction(app, token)
        if err or it is None:
            return None, None, err
        m = self._webhook_message_id(it, mid)
        if m is None or m not in self.messages:
            return it, None, _error(404, 10008, "Unknown Message")
        return it, m, None

    async def _r_wh_get(self, request, rec, body, files, arrived, app, token, mid) -> web.Response:
        it, m, err = self._webhook_message(app, token, mid)
        if err or it is None or m is None:
            return err  # type: ignore[return-value]
        return _json_response(self.messages[m])

    async def _r_wh_patch(self, request, rec, body, files, arrived, app, token, mid) -> web.Response:
        it, m, err = self._webhook_message(app, token, mid)
        if err or it is None or m is None:
            return err  # type: ignore[return-value]
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
        it, m, err = self._webhook_message(app, token, mid)
        if err or it is None or m is None:
            return err  # type: ignore[return-value]
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

