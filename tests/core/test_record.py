"""The record on SQLite and on a real PostgreSQL server: migrations, votes, stats, hashing, a database down."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging

import pytest
from sqlalchemy import inspect, text

from bot import record as rec
from bot.record import Record, RecordUnavailable, Reply
from tests.conftest import settle_sqlite_threads

KEY = b"test-key"


def reply(ask_id: int, kind: str = "answer", question: str = "Why was the embassy closed?",
          passages: tuple[str, ...] = ("iran#8",), member: str = "m1", **kw) -> Reply:
    return Reply(ask_id=ask_id, kind=kind, question=question, passages=passages, member=member, corpus="abc123",
                 guild_id=1, channel_id=2, message_id=ask_id + 1, link=f"https://discord.com/channels/1/2/{ask_id + 1}",
                 **kw)


async def test_migrations_make_the_schema_once_and_record_their_version(database):
    r = Record(database, KEY)
    assert await r.migrate() == rec.SCHEMA_VERSION
    await r.close()
    again = Record(database, KEY)  # a restart, or a second shard: nothing to do, nothing lost
    await again.add_reply(reply(1))
    assert await again.version() == rec.SCHEMA_VERSION
    async with again.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        rows = (await conn.execute(text("SELECT version, description FROM schema_version"))).all()
    assert {"schema_version", "replies", "votes"} <= tables
    assert [tuple(row) for row in rows] == [(1, "replies and votes")]
    assert (await again.reply(1)).question == "Why was the embassy closed?"
    await again.close()


async def test_a_later_migration_upgrades_without_losing_the_record(database, monkeypatch):
    r = Record(database, KEY)
    await r.add_reply(reply(1))
    await r.close()

    def v2(conn):
        conn.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    monkeypatch.setattr(rec, "MIGRATIONS", rec.MIGRATIONS + ((2, "notes", v2),))
    monkeypatch.setattr(rec, "SCHEMA_VERSION", 2)
    upgraded = Record(database, KEY)
    assert await upgraded.migrate() == 2
    assert await upgraded.version() == 2
    assert (await upgraded.reply(1)).kind == "answer"  # the record survived the upgrade
    await upgraded.close()


async def test_concurrent_migrations_apply_each_step_once(database):
    records = [Record(database, KEY) for _ in range(4)]
    try:
        results = await asyncio.gather(*(r.migrate() for r in records), return_exceptions=True)
        # on SQLite a racing process may lose and retry on its next write; PostgreSQL serialises them
        assert any(res == rec.SCHEMA_VERSION for res in results)
        if database.startswith("postgresql"):
            assert results == [rec.SCHEMA_VERSION] * 4
        async with records[0].engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM schema_version"))).scalar() == 1
    finally:
        for r in records:
            await r.close()


async def test_one_vote_per_member_per_answer_and_changeable(database):
    r = Record(database, KEY)
    await r.add_reply(reply(10))
    a, b = r.member(111), r.member(222)
    await r.vote(10, a, -1)
    await r.vote(10, a, -1)  # a second click of the same button
    await r.vote(10, b, -1)
    s = await r.stats()
    assert [(v.ask_id, v.down, v.up) for v in s.voted_down] == [(10, 2, 0)]
    await r.vote(10, b, 1)  # changed their mind
    s = await r.stats()
    assert [(v.down, v.up) for v in s.voted_down] == [(1, 1)] and (s.votes_up, s.votes_down) == (1, 1)
    await r.vote(10, a, 1)
    assert (await r.stats()).voted_down == ()
    with pytest.raises(ValueError):
        await r.vote(10, a, 0)
    await r.close()


async def test_stats_counts_shares_groups_and_down_votes(database):
    r = Record(database, KEY)
    await r.add_reply(reply(1, "answer"))
    await r.add_reply(reply(2, "answer", question="who is Mike Poole"))
    await r.add_reply(reply(3, "refused", question="Who won the Stanley Cup?", passages=()))
    await r.add_reply(reply(4, "refused", question="stanley cup: who won it", passages=()))
    await r.add_reply(reply(5, "closest", question="Who won the cup, Stanley?", passages=("iran#3",)))
    await r.add_reply(reply(6, "refused", question="What is the population of Canada?", passages=()))
    await r.vote(2, r.member(7), -1)
    await r.vote(1, r.member(7), -1)
    s = await r.stats()
    assert (s.asked, s.answered, s.closest, s.refused) == (6, 2, 1, 3)
    assert s.share("refused") == 0.5
    top = s.unanswered[0]
    assert (top.words, top.count, top.refused, top.closest) == (rec.search_words("stanley cup won"), 3, 2, 1)
    assert top.latest_question == "Who won the cup, Stanley?" and top.latest_link.endswith("/6")
    assert s.unanswered[1].latest_question == "What is the population of Canada?"
    assert [v.ask_id for v in s.voted_down] == [1, 2]  # newest vote first
    assert s.voted_down[0].question == "Why was the embassy closed?" and s.voted_down[0].passages == ("iran#8",)
    data = s.to_json()
    assert data["asked"] == 6 and data["unanswered"][0]["count"] == 3 and data["voted_down"][0]["down"] == 1
    await r.close()


async def test_stats_days_window(database):
    r = Record(database, KEY)
    old = rec.utcnow() - dt.timedelta(days=10)
    await r.add_reply(reply(1, "refused", question="old question", passages=(), at=old))
    await r.add_reply(reply(2, "refused", question="new question", passages=()))
    assert (await r.stats()).asked == 2
    week = await r.stats(days=7)
    assert week.asked == 1 and [g.latest_question for g in week.unanswered] == ["new question"]
    assert week.unanswered[0].latest_at.tzinfo is not None
    await r.close()


def test_members_are_a_keyed_hash(tmp_path):
    key = rec.load_key(tmp_path)
    assert rec.load_key(tmp_path) == key  # made once, then kept
    assert (tmp_path / rec.KEY_FILE).stat().st_mode & 0o077 == 0  # readable by its owner only
    h = rec.member_hash(key, 123456789012345678)
    assert h == rec.member_hash(key, 123456789012345678) and "123456789012345678" not in h
    assert h != rec.member_hash(b"another key", 123456789012345678)
    assert rec.load_key(tmp_path, "from-settings") == b"from-settings"


async def test_the_member_id_is_never_stored(database):
    r = Record(database, KEY)
    await r.add_reply(reply(1, member=r.member(987654321987654321)))
    await r.vote(1, r.member(987654321987654321), 1)
    async with r.engine.connect() as conn:
        dump = str((await conn.execute(text("SELECT * FROM replies"))).all())
        dump += str((await conn.execute(text("SELECT * FROM votes"))).all())
    assert "987654321987654321" not in dump
    await r.close()


async def test_a_database_down_is_logged_once_and_recovers(tmp_path, caplog):
    folder = tmp_path / "gone"
    folder.mkdir()
    r = Record(f"sqlite+aiosqlite:///{folder / 'record.db'}", KEY)
    folder.rmdir()  # the database cannot be opened: the folder is not there
    with caplog.at_level(logging.DEBUG, logger="bot.record"):
        for i in range(5):
            with pytest.raises(RecordUnavailable):
                await r.add_reply(reply(i))
        assert not r.healthy
        folder.mkdir()
        await r.add_reply(reply(99))
    errors = [x for x in caplog.records if x.levelno >= logging.ERROR]
    assert len(errors) == 1 and "unavailable" in errors[0].getMessage()
    assert r.healthy and any("reachable again" in x.getMessage() for x in caplog.records)
    await r.close()
    await settle_sqlite_threads()


async def test_postgresql_down_then_back(postgres_server, postgres_url, caplog):
    r = Record(postgres_url, KEY)
    await r.add_reply(reply(1))
    postgres_server["pg_ctl"]("-m", "fast", "-w", "stop")
    try:
        with caplog.at_level(logging.WARNING, logger="bot.record"):
            for i in range(3):
                with pytest.raises(RecordUnavailable):
                    await r.add_reply(reply(10 + i))
    finally:
        postgres_server["pg_ctl"]("-w", "-t", "60", "-o",
                                  f"-p {postgres_server['port']} -k {postgres_server['data'].parent} "
                                  "-c listen_addresses=127.0.0.1 -c fsync=off", "start")
    await r.add_reply(reply(20))
    assert [x.levelno for x in caplog.records if x.levelno >= logging.ERROR] == [logging.ERROR]
    assert (await r.stats()).asked == 2
    await r.close()


async def test_background_writes_never_raise(tmp_path):
    r = Record(f"sqlite+aiosqlite:///{tmp_path / 'missing' / 'x.db'}", KEY)
    task = r.submit(r.add_reply(reply(1)))
    await r.drain()
    assert task.done() and task.exception() is None
    await r.close()
    await settle_sqlite_threads()


async def test_the_database_password_is_never_logged(caplog):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = Record(f"postgresql+asyncpg://bot:s3cret-pw@127.0.0.1:{port}/record", KEY)
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(RecordUnavailable):
            await r.add_reply(reply(1))
    assert "s3cret-pw" not in caplog.text and "***" in caplog.text
    await r.close()
