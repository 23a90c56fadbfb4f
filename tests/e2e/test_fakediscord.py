"""Tests of the fake Discord harness, driving a tiny real discord.py bot.

Run: .venv/bin/pytest tests/e2e -p no:cacheprovider -o asyncio_mode=auto
"""

from __future__ import annotations

import asyncio
import gc
import socket
import threading
import time
import warnings
from typing import Literal

import discord
import discord.gateway
import discord.http
import pytest
from discord import app_commands
from discord.ext import commands

from discord.webhook.async_ import async_context, interaction_response_params

from tests.conftest import shortened_sleeps

from .fakediscord import ExternalNetworkBlocked, FakeDiscord

pytestmark = pytest.mark.asyncio

NO_PINGS = discord.AllowedMentions.none()
MANAGE_MESSAGES = discord.Permissions(manage_messages=True).value


# ---------------------------------------------------------------------------------------
# the tiny bot
# ---------------------------------------------------------------------------------------


class TinyBotMixin:
    def __init__(self, fd: FakeDiscord, **kwargs) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=kwargs.pop("intents", discord.Intents.default()),  # default: no privileged intents
            help_command=None,
            guild_ready_timeout=0.05,
            **kwargs,
        )
        self.fd_guild = discord.Object(id=fd.guild_id)
        self.seen_messages: list[str] = []
        self.views: list[discord.ui.View] = []
        self.fast_reidentify = False
        for cmd in build_commands(self):
            self.tree.add_command(cmd, guild=self.fd_guild)

    async def setup_hook(self) -> None:
        await self.tree.sync(guild=self.fd_guild)

    async def before_identify_hook(self, shard_id, *, initial: bool = False) -> None:
        # discord.py sleeps 5 s before every non-initial IDENTIFY (client.py before_identify_hook)
        if not self.fast_reidentify:
            await super().before_identify_hook(shard_id, initial=initial)

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        self.seen_messages.append(message.content)
        if self.user in message.mentions:
            text = message.content.replace(self.user.mention, "").strip()
            await message.reply(f"You said: {text}", allowed_mentions=NO_PINGS)


class TinyBot(TinyBotMixin, commands.Bot):
    pass


class TinyShardedBot(TinyBotMixin, commands.AutoShardedBot):
    pass


def build_commands(bot: commands.Bot) -> list[app_commands.Command]:
    class EchoView(discord.ui.View):
        def __init__(self, text: str) -> None:
            super().__init__(timeout=120)
            self.text = text
            bot.views.append(self)  # type: ignore[attr-defined]

        @discord.ui.button(label="Again", style=discord.ButtonStyle.primary, custom_id="echo:again")
        async def again(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
            await interaction.response.send_message(f"again: {self.text}", ephemeral=True, allowed_mentions=NO_PINGS)

    class PageView(discord.ui.View):
        def __init__(self) -> None:
            super().__init__(timeout=120)
            self.page = 1
            bot.views.append(self)  # type: ignore[attr-defined]

        @discord.ui.button(label="Next", style=discord.ButtonStyle.secondary, custom_id="page:next")
        async def next_page(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
            self.page += 1
            button.disabled = self.page >= 3
            await interaction.response.edit_message(content=f"Page {self.page}/3", view=self)

    @app_commands.command(name="echo", description="Echo your text back")
    @app_commands.describe(text="What to echo")
    async def echo(interaction: discord.Interaction, text: app_commands.Range[str, 1, 200]) -> None:
        is_member = isinstance(interaction.user, discord.Member)
        embed = discord.Embed(title="Echo", description=text)
        roles = ",".join(r.name for r in getattr(interaction.user, "roles", [])[1:])
        embed.set_footer(text=f"member={is_member} manage_messages={interaction.permissions.manage_messages} roles={roles}")
        await interaction.response.send_message(embed=embed, view=EchoView(text), allowed_mentions=NO_PINGS)

    @app_commands.command(name="page", description="A paginated message")
    async def page(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Page 1/3", view=PageView(), allowed_mentions=NO_PINGS)

    @app_commands.command(name="slow", description="Answer after deferring")
    async def slow(interaction: discord.Interaction, mode: Literal["followup", "edit"] = "followup") -> None:
        await interaction.response.defer(thinking=True)
        await asyncio.sleep(0.05)
        if mode == "followup":
            await interaction.followup.send(embed=discord.Embed(title="Slow", description="done via followup"), allowed_mentions=NO_PINGS)
        else:
            await interaction.edit_original_response(content="done via edit", allowed_mentions=NO_PINGS)

    @app_commands.command(name="purge", description="Moderators only")
    @app_commands.default_permissions(manage_messages=True)
    async def purge(interaction: discord.Interaction, count: app_commands.Range[int, 1, 50]) -> None:
        await interaction.response.send_message(f"would purge {count}", ephemeral=True)

    return [echo, page, slow, purge]


async def start(fd: FakeDiscord, cls=TinyBot) -> commands.Bot:
    bot = cls(fd)
    await fd.start_bot(bot, "fake-token")
    return bot


# ---------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------


async def test_bot_reaches_ready():
    async with FakeDiscord(token="fake-token") as fd:
        assert str(discord.http.Route.BASE).startswith("http://127.0.0.1:")
        assert discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY.host == "127.0.0.1"
        bot = await start(fd)
        await asyncio.wait_for(bot.wait_until_ready(), 5)

        assert bot.user.id == fd.bot_user_id
        assert bot.application_id == fd.app_id
        guild = bot.get_guild(fd.guild_id)
        assert guild is not None and guild.get_channel(fd.channel_id).name == "news"
        assert guild.me is not None and guild.me.guild_permissions.send_messages

        ident = fd.identifies[0]
        assert ident["token"] == "fake-token"
        assert ident["intents"] == discord.Intents.default().value
        assert fd.connections[0].query["compress"] == "zlib-stream"  # asked for, but plain text frames work
        assert [(r.method, r.path) for r in fd.requests[:2]] == [("GET", "/users/@me"), ("GET", "/oauth2/applications/@me")]
        assert all(r.headers["Authorization"] == "Bot fake-token" for r in fd.requests if not r.path.startswith("/interactions"))
        assert fd.unexpected == []
        await fd.stop_bot()
    assert discord.http.Route.BASE == "https://discord.com/api/v10"
    assert str(discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"


async def test_guild_command_sync_is_recorded():
    async with FakeDiscord() as fd:
        await start(fd)
        assert fd.synced_commands() is None  # nothing global
        synced = {c["name"]: c for c in fd.synced_commands(guild_id=fd.guild_id)}
        assert set(synced) == {"echo", "page", "slow", "purge"}

        echo = synced["echo"]
        assert echo["description"] == "Echo your text back"
        assert echo["default_member_permissions"] is None
        assert echo["options"] == [
            {"type": 3, "name": "text", "description": "What to echo", "required": True, "min_length": 1, "max_length": 200}
        ]
        slow_opt = synced["slow"]["options"][0]
        assert slow_opt["name"] == "mode" and slow_opt["required"] is False
        assert [c["value"] for c in slow_opt["choices"]] == ["followup", "edit"]
        assert synced["purge"]["default_member_permissions"] == MANAGE_MESSAGES  # discord.py sends an int
        assert fd.registered_commands(fd.guild_id)["purge"]["default_member_permissions"] == str(MANAGE_MESSAGES)
        assert synced["purge"]["options"][0]["min_value"] == 1 and synced["purge"]["options"][0]["max_value"] == 50

        put = fd.requests_to("PUT", rf"/applications/{fd.app_id}/guilds/{fd.guild_id}/commands")
        assert len(put) == 1 and put[0].status == 200
        # the harness validates interactions like the Discord client would
        with pytest.raises(ValueError):
            await fd.slash("echo", {"text": "x" * 201})
        with pytest.raises(LookupError):
            await fd.slash("nope")
        await fd.stop_bot()


async def test_echo_answers_with_embed_and_button_through_callback():
    async with FakeDiscord() as fd:
        await start(fd)
        mod_role = fd.add_role("mod", permissions=MANAGE_MESSAGES)
        alice = fd.add_member("alice", roles=[mod_role])
        bob = fd.add_member("bob")

        r = await fd.slash("echo", {"text": "hi"}, user=alice)
        # add_role()'s GUILD_ROLE_CREATE goes out before the interaction that uses the role
        assert fd.gateway_events() == ["READY", "GUILD_CREATE", "GUILD_ROLE_CREATE", "INTERACTION_CREATE"]
        body = await r.wait_response(timeout=5)
        assert body["type"] == 4
        data = body["data"]
        assert data["embeds"][0]["title"] == "Echo" and data["embeds"][0]["description"] == "hi"
        assert data["embeds"][0]["footer"]["text"] == "member=True manage_messages=True roles=mod"
        assert data["components"][0]["components"][0]["custom_id"] == "echo:again"
        assert data["allowed_mentions"] == {"parse": []}
        assert r.attempts[0].query == {"with_response": "1"}
        assert 0 < r.latency < 3

        final = await r.wait_final()
        assert final.type == 4 and not final.ephemeral
        assert final.message["id"] == str(r.message_id) and final.message["type"] == 20
        assert "hi" in final.text

        r2 = await fd.slash("echo", {"text": "yo"}, user=bob)
        assert (await r2.wait_response())["data"]["embeds"][0]["footer"]["text"] == "member=True manage_messages=False roles="
        assert r2.id != r.id and r2.token != r.token and r2.message_id != r.message_id

        # the button on the echo message: an ephemeral answer
        c = await fd.click(r.message, "echo:again", user=alice)
        final = await c.wait_final()
        assert final.content == "again: hi" and final.ephemeral
        assert c.payload["message"]["id"] == str(r.message_id)
        assert fd.unexpected == []
        await fd.stop_bot()


async def test_deferred_command_is_seen_by_wait_final():
    async with FakeDiscord() as fd:
        await start(fd)
        r = await fd.slash("slow")  # default mode: followup
        assert (await r.wait_response())["type"] == 5
        assert r.message["flags"] & 128  # "thinking..."
        final = await r.wait_final()
        assert final.embeds[0]["description"] == "done via followup"
        assert not final.message["flags"] & 128
        assert final.followups == []  # the first followup after a defer fills the thinking message

        r = await fd.slash("slow", {"mode": "edit"})
        final = await r.wait_final()
        assert final.content == "done via edit"
        assert len(r.edits) == 1 and r.edits[0]["allowed_mentions"] == {"parse": []}
        assert fd.requests_to("PATCH", rf"/webhooks/{fd.app_id}/[^/]+/messages/@original")
        await fd.stop_bot()


async def test_wait_final_sees_what_the_handler_and_the_tasks_it_starts_do_next():
    """wait_final returns as soon as the bot is done with an interaction, but not before: a followup the
    command sends after its first response, and one sent by a task the command started, are both seen."""
    async with FakeDiscord() as fd:
        bot = TinyBot(fd)
        started: list[asyncio.Task] = []

        @app_commands.command(name="trickle", description="answers in three messages")
        async def trickle(interaction: discord.Interaction) -> None:
            async def later() -> None:
                await asyncio.sleep(0.02)
                await interaction.followup.send("three")

            await interaction.response.send_message("one")
            await asyncio.sleep(0.02)
            await interaction.followup.send("two")
            started.append(asyncio.create_task(later()))

        bot.tree.add_command(trickle, guild=bot.fd_guild)
        await fd.start_bot(bot)
        final = await (await fd.slash("trickle")).wait_final()
        assert final.content == "one" and [f["content"] for f in final.followups] == ["two", "three"]
        assert started[0].done()
        await fd.stop_bot()


async def test_button_click_edits_the_message():
    async with FakeDiscord() as fd:
        await start(fd)
        r = await fd.slash("page")
        await r.wait_response()
        assert r.message["content"] == "Page 1/3"

        c = await fd.click(r.message, "page:next")
        body = await c.wait_response()
        assert body["type"] == 7 and body["data"]["content"] == "Page 2/3"
        assert fd.messages[r.message_id]["content"] == "Page 2/3"  # same message, edited in place
        assert fd.messages[r.message_id]["edited_timestamp"] is not None

        c = await fd.click(r, "page:next")
        final = await c.wait_final()
        assert final.content == "Page 3/3" and final.message["id"] == str(r.message_id)
        assert final.message["components"][0]["components"][0]["disabled"] is True
        with pytest.raises(ValueError):  # a user cannot click a disabled button
            await fd.click(r.message, "page:next")
        await fd.stop_bot()


async def test_mention_gets_a_reply_with_message_reference():
    async with FakeDiscord() as fd:
        bot = await start(fd)
        alice = fd.add_member("alice")
        m = await fd.mention(alice, "hello there")
        reply = await m.wait_reply(timeout=5)
        assert int(reply["message_reference"]["message_id"]) == m.id
        assert reply["content"] == "You said: hello there"
        assert reply["allowed_mentions"] == {"parse": []}
        stored = m.reply_message
        assert stored["type"] == 19 and stored["referenced_message"]["id"] == str(m.id)
        assert fd.pings[int(stored["id"])] == {"users": [], "roles": [], "everyone": False}

        # without the message_content intent Discord blanks content of messages not mentioning the bot
        await fd.send_user_message(alice, "just chatting")
        await asyncio.sleep(0.1)
        assert bot.seen_messages == ["<@%d> hello there" % fd.bot_user_id, ""]
        assert len(fd.requests_to("POST", rf"/channels/{fd.channel_id}/messages")) == 1
        await fd.stop_bot()


async def test_gateway_drop_is_survived_by_resume_with_replay():
    async with FakeDiscord() as fd:
        bot = await start(fd)
        resumed = asyncio.Event()

        async def on_resumed() -> None:
            resumed.set()

        bot.add_listener(on_resumed)
        first_session = fd.connections[0].session_id
        assert (await (await fd.slash("echo", {"text": "before"})).wait_response())["type"] == 4

        await fd.drop_gateway()  # abort the TCP connection, no close frame
        r = await fd.slash("echo", {"text": "during"})  # dispatched while disconnected: must be replayed
        await fd.wait_ready(timeout=10)
        body = await r.wait_response(timeout=5)
        assert body["data"]["embeds"][0]["description"] == "during"
        await asyncio.wait_for(resumed.wait(), 5)

        assert len(fd.identifies) == 1
        assert fd.resumes[-1]["session_id"] == first_session
        assert fd.connections[-1].kind == "resume" and fd.connections[-1].path == "/gateway-resume"
        r = await fd.slash("echo", {"text": "after"})
        assert (await r.wait_response())["data"]["embeds"][0]["description"] == "after"

        # a close frame with a resumable code works the same way
        await fd.drop_gateway(code=4000)
        await fd.wait_ready(timeout=10)
        assert (await (await fd.slash("echo", {"text": "again"})).wait_response())["type"] == 4
        assert len(fd.identifies) == 1 and len(fd.resumes) == 2
        await fd.stop_bot()


async def test_reconnect_request_and_invalid_session():
    async with FakeDiscord() as fd:
        bot = await start(fd)
        bot.fast_reidentify = True
        await fd.request_reconnect()  # op 7: client must RESUME
        await fd.wait_ready(timeout=10)
        assert len(fd.resumes) == 1 and len(fd.identifies) == 1
        assert (await (await fd.slash("echo", {"text": "x"})).wait_response())["type"] == 4

        await fd.invalidate_session(resumable=False)  # op 9 false: client must IDENTIFY again
        await fd.wait_ready(timeout=10)
        assert len(fd.identifies) == 2
        # discord.py keeps the resume_gateway_url for this IDENTIFY (client.py only resets the
        # gateway on resumable reconnects), so the fake accepts IDENTIFY on either URL
        assert fd.connections[-1].kind == "identify"
        assert (await (await fd.slash("echo", {"text": "y"})).wait_response())["type"] == 4
        await fd.stop_bot()


async def test_429_and_500_on_callback_are_retried_by_discord_py(monkeypatch):
    async with FakeDiscord() as fd:
        await start(fd)
        fault = fd.fail_next("POST", r"/interactions/\d+/[^/]+/callback", status=429, retry_after=0.2)
        r = await fd.slash("echo", {"text": "limited"})
        body = await r.wait_response(timeout=5)
        assert body["data"]["embeds"][0]["description"] == "limited"
        assert fault.hits == 1
        assert [a.status for a in r.attempts] == [429, 200]
        assert r.latency >= 0.2

        # 5xx: discord.py's webhook adapter retries after sleeping 1 + 2*attempt seconds (asked for here, and
        # waited a hundred times faster)
        backoff = shortened_sleeps(monkeypatch, discord.webhook.async_)
        fault = fd.fail_next("POST", r"/interactions/\d+/[^/]+/callback", status=500)
        r = await fd.slash("echo", {"text": "flaky"})
        body = await r.wait_response(timeout=5)
        assert [a.status for a in r.attempts] == [500, 200] and fault.exhausted
        assert backoff == [1] and r.latency < 3.0
        await fd.stop_bot()


@pytest.mark.alone  # gaps within 75 ms of the interval: no other test may share the machine's two cores meanwhile
async def test_heartbeats_are_on_time():
    async with FakeDiscord(heartbeat_interval=0.15) as fd:
        await start(fd)
        await asyncio.sleep(0.8)
        assert len(fd.heartbeats) >= 4
        gaps = fd.heartbeat_gaps()
        assert gaps and max(gaps) < 0.15 * 1.5, gaps
        assert fd.heartbeat_log[-1].seq is not None  # carries the last sequence number
        await fd.stop_bot()


async def test_sharded_bot_uses_gateway_bot():
    async with FakeDiscord(shards=1) as fd:
        bot = await start(fd, cls=TinyShardedBot)
        assert fd.requests_to("GET", "/gateway/bot")
        assert fd.identifies[0]["shard"] == [0, 1]
        assert bot.shard_count == 1
        r = await fd.slash("echo", {"text": "sharded"})
        assert (await r.wait_response())["data"]["embeds"][0]["description"] == "sharded"
        await fd.stop_bot()


async def test_unknown_routes_invalid_messages_and_the_network_guard():
    async with FakeDiscord() as fd:
        bot = await start(fd)
        with pytest.raises(discord.NotFound):
            await bot.http.request(discord.http.Route("GET", "/guilds/{guild_id}/bans", guild_id=fd.guild_id))
        assert [(r.method, r.path) for r in fd.unexpected] == [("GET", f"/guilds/{fd.guild_id}/bans")]

        channel = bot.get_channel(fd.channel_id)
        with pytest.raises(discord.HTTPException) as info:
            await channel.send("x" * 2001)
        assert info.value.status == 400 and info.value.code == 50035

        # UDP connect() sends no packet, so this probes the guard without any traffic even if it failed
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s, pytest.raises(ExternalNetworkBlocked):
            s.connect(("203.0.113.1", 9))
        assert fd.blocked_connections
        fd.blocked_connections.clear()  # otherwise leaving the harness fails the test
        await fd.stop_bot()


async def test_discord_rules_are_enforced():
    async with FakeDiscord(token="right-token") as fd:
        with pytest.raises(discord.LoginFailure):  # REST 401 on GET /users/@me
            await fd.start_bot(TinyBot(fd), "wrong-token", ready_timeout=3)
    async with FakeDiscord(allowed_intents=0) as fd:
        with pytest.raises(discord.PrivilegedIntentsRequired):  # gateway close 4014
            await fd.start_bot(TinyBot(fd, intents=discord.Intents(guilds=True, message_content=True)), ready_timeout=3)
        assert fd.connections[-1].close_code == 4014

    async with FakeDiscord(interaction_deadline=0.2) as fd:
        bot = TinyBot(fd, intents=discord.Intents(guilds=True, members=True, guild_messages=True))
        outcomes: list = []

        @app_commands.command(name="late", description="misbehaving responses")
        async def late(interaction: discord.Interaction, topic: str) -> None:
            if topic == "twice":
                await interaction.response.send_message("one")
                await interaction.followup.send("two")
                # a second callback, bypassing discord.py's InteractionResponded guard
                adapter = async_context.get()
                try:
                    await adapter.create_interaction_response(
                        interaction.id,
                        interaction.token,
                        session=interaction._session,
                        params=interaction_response_params(4, {"content": "three"}),
                    )
                except discord.HTTPException as e:
                    outcomes.append(e.code)
                return
            await asyncio.sleep(0.3)  # past the (shortened) 3 s deadline
            try:
                await interaction.response.send_message("late")
            except discord.NotFound as e:
                outcomes.append(e.code)

        @late.autocomplete("topic")
        async def topic_autocomplete(interaction: discord.Interaction, current: str) -> list:
            return [app_commands.Choice(name=f"{current} news", value=f"{current}-news")]

        bot.tree.add_command(late, guild=bot.fd_guild)
        await fd.start_bot(bot)
        zed = fd.add_member("zed")  # with the members intent the bot hears GUILD_MEMBER_ADD
        await fd.wait_ready()
        await asyncio.sleep(0.05)
        assert bot.get_guild(fd.guild_id).get_member(zed.id) is not None

        a = await fd.autocomplete("late", {"topic": "elec"}, focused="topic")
        final = await a.wait_final()
        assert final.type == 8 and final.choices == [{"name": "elec news", "value": "elec-news"}]

        r = await fd.slash("late", {"topic": "slow"})
        await fd._wait_until(lambda: outcomes, 3, "the late command")
        assert outcomes == [10062] and r.expired and not r.acked  # 404 Unknown interaction

        outcomes.clear()
        r = await fd.slash("late", {"topic": "twice"})
        final = await r.wait_final()
        assert final.content == "one" and [f["content"] for f in final.followups] == ["two"]
        await fd._wait_until(lambda: outcomes, 3, "the second callback")
        assert outcomes == [40060]  # Interaction has already been acknowledged
        await fd.stop_bot()


async def test_clean_shutdown_leaves_nothing_behind():
    loop = asyncio.get_running_loop()
    loop_errors: list[dict] = []
    loop.set_exception_handler(lambda _loop, ctx: loop_errors.append(ctx))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with FakeDiscord() as fd:
            bot = TinyBot(fd)
            task = asyncio.create_task(bot.start("fake-token"))
            await fd.wait_ready(timeout=10)
            r = await fd.slash("echo", {"text": "bye"})
            await r.wait_response()
            c = await fd.click(r.message, "echo:again")
            await c.wait_response()

            # discord.py does not stop views on close(): their timeout tasks would stay pending
            for view in bot.views:
                view.stop()
            await bot.close()
            await asyncio.wait_for(task, 5)
            assert bot.is_closed()

            me = asyncio.current_task()
            for _ in range(50):
                pending = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
                if not pending:
                    break
                await asyncio.sleep(0.02)
            assert pending == []
        del bot, task
        gc.collect()
    assert [str(w.message) for w in caught] == []
    assert loop_errors == []
    deadline = time.monotonic() + 2
    while any(t.name.startswith("keep-alive-handler") for t in threading.enumerate()) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert not [t.name for t in threading.enumerate() if t.name.startswith("keep-alive-handler")]


async def test_interaction_latency_100_echoes():
    async with FakeDiscord() as fd:
        await start(fd)
        latencies = []
        for i in range(100):
            r = await fd.slash("echo", {"text": f"n{i}"})
            await r.wait_response(timeout=5)
            latencies.append(r.latency)
        latencies.sort()
        p50 = latencies[49]
        p99 = latencies[98]
        print(f"\n/echo dispatch->callback latency over 100 calls: p50={p50 * 1000:.2f} ms p99={p99 * 1000:.2f} ms max={latencies[-1] * 1000:.2f} ms")
        assert all(lat < 3.0 for lat in latencies)
        assert len({r.id for r in fd.interactions}) == 100
        assert len({r.message_id for r in fd.interactions}) == 100
        await fd.stop_bot()


async def test_message_commands_and_direct_messages():
    """A message context-menu command gets its target message resolved, content included, without the message
    content intent; a direct message lands in the member's DM channel, not in the guild's."""
    async with FakeDiscord() as fd:
        bot = commands.Bot(command_prefix=commands.when_mentioned, intents=discord.Intents.default(),
                           help_command=None, guild_ready_timeout=0.05)
        guild = discord.Object(id=fd.guild_id)

        async def quote_it(interaction: discord.Interaction, message: discord.Message) -> None:
            await interaction.user.send(f"you asked about: {message.content}", allowed_mentions=NO_PINGS)
            await interaction.response.send_message(f"{message.author.name} said {message.content!r}",
                                                    ephemeral=True)

        bot.tree.add_command(app_commands.ContextMenu(name="Quote it", callback=quote_it), guild=guild)

        async def setup_hook() -> None:
            await bot.tree.sync(guild=guild)
        bot.setup_hook = setup_hook  # type: ignore[method-assign]
        await fd.start_bot(bot, "fake-token")
        alice, bob = fd.add_member("alice"), fd.add_member("bob")
        [menu] = [c for c in fd.synced_commands(guild_id=fd.guild_id) if c["name"] == "Quote it"]
        assert menu["type"] == 3
        said = await fd.send_user_message(alice, "the sky is green")
        final = await (await fd.message_command("Quote it", said, user=bob)).wait_final()
        assert final.ephemeral and final.content == "alice said 'the sky is green'"
        [dm] = fd.dms(bob)
        assert dm["content"] == "you asked about: the sky is green" and "guild_id" not in dm
        assert fd.dms(alice) == [] and not any(m["content"].startswith("you asked") for m in fd.channel_history())
        with pytest.raises(LookupError):
            await fd.message_command("No such command", said, user=bob)
        await fd.stop_bot()
