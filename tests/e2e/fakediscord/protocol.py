"""Discord's numbers (intents, message flags, interaction, callback and option types, permissions) and the
JSON replies the stand-in sends, shaped exactly as Discord sends them."""

from __future__ import annotations

import datetime
import json
from typing import Any, Dict, Optional

import discord
from aiohttp import web

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


def message_payload(mid: int, *, mtype: int, channel_id: int, guild_id: int, author: dict, member: Optional[dict] = None,
                    content: str = "", tts: bool = False, mentions: Optional[list] = None) -> dict:
    """A message object as Discord sends it, with no embeds, components or attachments yet."""
    msg: Dict[str, Any] = {
        "id": str(mid),
        "type": mtype,
        "channel_id": str(channel_id),
        "guild_id": str(guild_id),
        "author": author,
    }
    if member is not None:
        msg["member"] = member
    msg |= {
        "content": content,
        "timestamp": _now_iso(),
        "edited_timestamp": None,
        "tts": tts,
        "mention_everyone": False,
        "mentions": [] if mentions is None else mentions,
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "pinned": False,
        "flags": 0,
    }
    return msg
