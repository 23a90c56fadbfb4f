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

The package, one concern a module: ``server`` (FakeDiscord: the guild, start and stop, waiting),
``gateway`` (websocket sessions and dispatch), ``rest`` (request handling, faults, routes, commands),
``messages`` (interaction callbacks, webhooks, channels), ``users`` (what members do), ``records`` (what
tests read), ``limits`` (Discord's validation), ``protocol`` (Discord's numbers and JSON replies) and
``guard`` (the network guard).
"""

from __future__ import annotations

from .guard import ExternalNetworkBlocked
from .limits import validate_commands, validate_message
from .protocol import (ADMINISTRATOR, ALL_PERMISSIONS, CB_AUTOCOMPLETE, CB_DEFERRED_MESSAGE, CB_DEFERRED_UPDATE,
                       CB_MESSAGE, CB_MODAL, CB_PONG, CB_UPDATE, DEFAULT_BOT_PERMISSIONS, DEFAULT_EVERYONE_PERMISSIONS,
                       DISCORD_EPOCH_MS, FLAG_COMPONENTS_V2, FLAG_EPHEMERAL, FLAG_LOADING, FLAG_SUPPRESS_EMBEDS,
                       FLAG_SUPPRESS_NOTIFICATIONS, INTENT_GUILD_MEMBERS, INTENT_GUILD_MESSAGES, INTENT_GUILD_PRESENCES,
                       INTENT_GUILDS, INTENT_MESSAGE_CONTENT, IT_AUTOCOMPLETE, IT_COMMAND, IT_COMPONENT, IT_MODAL,
                       IT_PING, OPT_BOOLEAN, OPT_CHANNEL, OPT_INTEGER, OPT_MENTIONABLE, OPT_NUMBER, OPT_ROLE,
                       OPT_STRING, OPT_SUB_COMMAND, OPT_SUB_COMMAND_GROUP, OPT_USER, PRIVILEGED_INTENTS)
from .records import (FinalResponse, Fault, GatewayConnection, HeartbeatRecord, InteractionRecord, MemberRecord,
                      RequestRecord, RoleRecord, UserMessageRecord, message_text)
from .server import BotStopped, FakeDiscord

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
