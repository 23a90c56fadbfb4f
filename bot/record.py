"""The record: what members asked, what they were shown, and how they voted, in a SQL database.

SQLAlchemy 2 with async drivers only (aiosqlite, asyncpg), so no database call ever blocks the event loop.
SQLite in ``DATA_DIR`` is the default; ``DATABASE_URL=postgresql+asyncpg://...`` lets several bot processes
(shards, on several machines) share one record.

Members are never stored in clear: a member is an HMAC-SHA256 of their id under a secret key (``RECORD_KEY``,
else a key file made once in ``DATA_DIR``), so one member's votes count once and nobody reading the database
can tell who they are.

Schema changes are migrations: ``MIGRATIONS`` is an ordered list of steps, and the table ``schema_version``
holds one row per step applied. ``migrate`` applies the missing steps in one transaction (on PostgreSQL under
an advisory lock, so two processes starting together do not both migrate), so an upgrade never loses the
record and a failed one changes nothing.

The record must never stop an answer: every call either succeeds or raises ``RecordUnavailable`` after the
failure is logged, and a database that stays down is logged once (then once again when it is back), not once
per question.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Sequence, TypeVar

from sqlalchemy import (BigInteger, Boolean, Column, DateTime, Integer, MetaData, PrimaryKeyConstraint,
                        SmallInteger, String, Table, Text, TypeDecorator, case, func, select, text)
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from .core.text import tokenize

log = logging.getLogger(__name__)

T = TypeVar("T")

KINDS = ("answer", "closest", "refused")
OPERATION_TIMEOUT = 10.0
"""Seconds one database operation may take before it counts as a failure (a database that hangs)."""
KEY_FILE = "record.key"
SQLITE_FILE = "storybot.db"


class RecordUnavailable(Exception):
    """The database could not be reached or refused the operation (already logged)."""


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        value = value.astimezone(dt.timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


# --- the schema, as the current version has it ---------------------------------------------------------------

metadata = MetaData()

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("description", Text, nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

replies = Table(
    "replies", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ask_id", BigInteger, nullable=False, unique=True),  # the interaction or message that asked
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # answer | closest | refused
    Column("question", Text, nullable=False),
    Column("words", Text, nullable=False, index=True),  # the search words, sorted: how questions are grouped
    Column("passages", Text, nullable=False),  # the passage ids shown, space-separated
    Column("story", String(100)),  # the story the question was narrowed to, if any
    Column("private", Boolean, nullable=False),
    Column("via", String(16), nullable=False),  # slash | mention | message (context menu) | console
    Column("guild_id", BigInteger),
    Column("channel_id", BigInteger),
    Column("message_id", BigInteger),
    Column("link", Text),  # a jump link to the reply (None for private replies, which have none)
    Column("member", String(64), nullable=False),  # keyed hash, never the id
    Column("corpus", String(16), nullable=False),  # the corpus version that answered
)

votes = Table(
    "votes", metadata,
    Column("ask_id", BigInteger, nullable=False),
    Column("member", String(64), nullable=False),
    Column("value", SmallInteger, nullable=False),  # +1 or -1
    Column("at", UTCDateTime, nullable=False, index=True),
    PrimaryKeyConstraint("ask_id", "member", name="votes_pk"),  # one vote per member per answer
)


def _v1(conn: Any) -> None:
    """replies and votes. (Each step creates the shape of its own version: later steps alter it.)"""
    step = MetaData()
    for table in (replies, votes):
        table.to_metadata(step).create(conn)


MIGRATIONS: tuple[tuple[int, str, Callable[[Any], None]], ...] = (
    (1, "replies and votes", _v1),
)
SCHEMA_VERSION = MIGRATIONS[-1][0]
_PG_LOCK = 0x5707_1B07  # advisory lock id for migrations


# --- values ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One question and what it was shown, as recorded."""

    ask_id: int
    kind: str
    question: str
    passages: tuple[str, ...]
    member: str
    corpus: str
    via: str = "slash"
    private: bool = False
    story: str | None = None
    guild_id: int | None = None
    channel_id: int | None = None
    message_id: int | None = None
    link: str | None = None
    at: dt.datetime | None = None


@dataclass(frozen=True)
class UnansweredGroup:
    words: str
    count: int
    refused: int
    closest: int
    latest_question: str
    latest_link: str | None
    latest_at: dt.datetime


@dataclass(frozen=True)
class VotedDown:
    ask_id: int
    question: str | None
    kind: str | None
    passages: tuple[str, ...]
    down: int
    up: int
    link: str | None
    voted_at: dt.datetime


@dataclass(frozen=True)
class Stats:
    days: int | None
    asked: int
    answered: int
    closest: int
    refused: int
    unanswered: tuple[UnansweredGroup, ...]
    voted_down: tuple[VotedDown, ...]
    votes_up: int = 0
    votes_down: int = 0

    def share(self, kind: str) -> float:
        return getattr(self, kind) / self.asked if self.asked else 0.0

    def to_json(self) -> dict:
        def when(d: dt.datetime) -> str:
            return d.isoformat(timespec="seconds")

        return {
            "days": self.days,
            "asked": self.asked,
            "answered": self.answered,
            "closest": self.closest,
            "refused": self.refused,
            "shares": {k: round(self.share(k), 4) for k in ("answered", "closest", "refused")},
            "votes": {"up": self.votes_up, "down": self.votes_down},
            "unanswered": [
                {"words": g.words, "count": g.count, "refused": g.refused, "closest": g.closest,
                 "latest_question": g.latest_question, "latest_link": g.latest_link, "latest_at": when(g.latest_at)}
                for g in self.unanswered
            ],
            "voted_down": [
                {"question": v.question, "kind": v.kind, "passages": list(v.passages), "down": v.down, "up": v.up,
                 "link": v.link, "voted_at": when(v.voted_at)}
                for v in self.voted_down
            ],
        }


def search_words(question: str) -> str:
    """The words a question is searched by, sorted: "Why was the embassy closed?" and "embassy closed why"
    group together."""
    return " ".join(sorted(set(tokenize(question))))


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# --- keys and urls ---------------------------------------------------------------------------------------------


def load_key(data_dir: Path, configured: str | None = None) -> bytes:
    """The secret that members are hashed with: ``configured`` (RECORD_KEY), else ``DATA_DIR/record.key``,
    made with 32 random bytes (readable by its owner only) the first time. Synchronous: call before the loop."""
    if configured and configured.strip():
        return configured.strip().encode()
    path = data_dir / KEY_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key + b"\n")
    log.info("made a new record key in %s (keep it: members are hashed with it)", path)
    return key


def member_hash(key: bytes, user_id: int) -> str:
    return hmac.new(key, f"member:{user_id}".encode(), hashlib.sha256).hexdigest()[:32]


def database_url(data_dir: Path, configured: str | None = None) -> str:
    """``DATABASE_URL`` if set, else the SQLite file in ``DATA_DIR``."""
    if configured and configured.strip():
        return configured.strip()
    return f"sqlite+aiosqlite:///{(data_dir / SQLITE_FILE).resolve()}"


def safe_url(url: str) -> str:
    """The url without its password, for the log."""
    return make_url(url).render_as_string(hide_password=True)


# --- the record ------------------------------------------------------------------------------------------------


class Record:
    """The database behind feedback and /stats. Every method is a coroutine on the event loop's side."""

    def __init__(self, url: str, key: bytes, *, engine: AsyncEngine | None = None) -> None:
        self.url = url
        self.key = key
        self.engine = engine or _engine(url)
        self._migrated = False
        self._migrate_lock = asyncio.Lock()
        self._healthy = True
        self._tasks: set[asyncio.Task] = set()

    @classmethod
    def open(cls, data_dir: Path, *, database_url_setting: str | None = None,
             key_setting: str | None = None) -> Record:
        url = database_url(data_dir, database_url_setting)
        if url.startswith("sqlite"):
            data_dir.mkdir(parents=True, exist_ok=True)
        log.info("recording questions and votes in %s", safe_url(url))
        return cls(url, load_key(data_dir, key_setting))

    @property
    def healthy(self) -> bool:
        """False after a failure, until an operation succeeds again."""
        return self._healthy

    def member(self, user_id: int) -> str:
        return member_hash(self.key, user_id)

    # --- schema ---

    async def migrate(self) -> int:
        """Apply the missing migrations; returns the schema version. Raises RecordUnavailable."""
        return await self._guard("migrating the schema", self._migrate, migrate_first=False)

    async def _migrate(self) -> int:
        async with self._migrate_lock:
            if self._migrated:
                return SCHEMA_VERSION
            async with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
                await conn.run_sync(lambda c: schema_version.create(c, checkfirst=True))
                current = (await conn.execute(select(func.max(schema_version.c.version)))).scalar() or 0
                if current > SCHEMA_VERSION:
                    log.warning("the record's schema is version %d, newer than this storybot knows (%d): "
                                "upgrade storybot", current, SCHEMA_VERSION)
                for version, description, step in MIGRATIONS:
                    if version > current:
                        await conn.run_sync(step)
                        await conn.execute(schema_version.insert().values(
                            version=version, description=description, applied_at=utcnow()))
                        log.info("record schema migrated to version %d (%s)", version, description)
                self._migrated = True
                return max(current, SCHEMA_VERSION)

    async def version(self) -> int:
        async def run(conn: AsyncConnection) -> int:
            return (await conn.execute(select(func.max(schema_version.c.version)))).scalar() or 0
        return await self._guard("reading the schema version", run)

    # --- writes ---

    async def add_reply(self, reply: Reply) -> None:
        values = {
            "ask_id": reply.ask_id, "at": reply.at or utcnow(), "kind": reply.kind,
            "question": reply.question, "words": search_words(reply.question),
            "passages": " ".join(reply.passages), "story": reply.story, "private": reply.private,
            "via": reply.via, "guild_id": reply.guild_id, "channel_id": reply.channel_id,
            "message_id": reply.message_id, "link": reply.link, "member": reply.member, "corpus": reply.corpus,
        }

        async def run(conn: AsyncConnection) -> None:
            await conn.execute(_upsert(conn, replies, values, ["ask_id"], [k for k in values if k != "ask_id"]))
        await self._guard("recording a reply", run)

    async def vote(self, ask_id: int, member: str, value: int) -> None:
        """``member``'s vote on the reply to ``ask_id``: +1 or -1. A second vote replaces the first."""
        if value not in (1, -1):
            raise ValueError("a vote is +1 or -1")
        values = {"ask_id": ask_id, "member": member, "value": value, "at": utcnow()}

        async def run(conn: AsyncConnection) -> None:
            await conn.execute(_upsert(conn, votes, values, ["ask_id", "member"], ["value", "at"]))
        await self._guard("recording a vote", run)

    async def reply(self, ask_id: int) -> Reply | None:
        async def run(conn: AsyncConnection) -> Reply | None:
            row = (await conn.execute(select(replies).where(replies.c.ask_id == ask_id))).mappings().first()
            return _reply(row) if row else None
        return await self._guard("reading a reply", run)

    # --- reads ---

    async def stats(self, *, days: int | None = None, top: int = 10, now: dt.datetime | None = None) -> Stats:
        """Questions asked in the last ``days`` days (all time: None), the share of each kind, the ``top``
        most-asked refused or closest questions grouped by their search words, and the answers voted down
        (a member's current vote counts), newest vote first."""
        since = (now or utcnow()) - dt.timedelta(days=days) if days else None

        async def run(conn: AsyncConnection) -> Stats:
            in_window = [replies.c.at >= since] if since else []
            counts = dict((await conn.execute(
                select(replies.c.kind, func.count()).where(*in_window).group_by(replies.c.kind))).all())

            unanswered = replies.c.kind.in_(("refused", "closest"))
            groups = (await conn.execute(
                select(replies.c.words, func.count().label("n"), func.max(replies.c.id).label("latest"),
                       func.sum(case((replies.c.kind == "refused", 1), else_=0)).label("refused"))
                .where(unanswered, *in_window).group_by(replies.c.words)
                .order_by(func.count().desc(), func.max(replies.c.id).desc()).limit(top))).all()
            latest = {}
            if groups:
                wanted = replies.c.id.in_([g.latest for g in groups])
                rows = (await conn.execute(select(replies).where(wanted))).mappings()
                latest = {r["id"]: r for r in rows}

            vote_window = [votes.c.at >= since] if since else []
            downs_expr = func.sum(case((votes.c.value < 0, 1), else_=0))
            voted = (await conn.execute(
                select(votes.c.ask_id, downs_expr.label("down"),
                       func.sum(case((votes.c.value > 0, 1), else_=0)).label("up"),
                       func.max(votes.c.at).label("at"))
                .where(*vote_window).group_by(votes.c.ask_id).having(downs_expr > 0)
                .order_by(func.max(votes.c.at).desc()).limit(top))).all()
            asked = {}
            if voted:
                wanted = replies.c.ask_id.in_([v.ask_id for v in voted])
                rows = (await conn.execute(select(replies).where(wanted))).mappings()
                asked = {r["ask_id"]: r for r in rows}
            totals = dict((await conn.execute(
                select(votes.c.value, func.count()).where(*vote_window).group_by(votes.c.value))).all())

            return Stats(
                days=days,
                asked=sum(counts.values()),
                answered=counts.get("answer", 0),
                closest=counts.get("closest", 0),
                refused=counts.get("refused", 0),
                unanswered=tuple(
                    UnansweredGroup(words=g.words, count=g.n, refused=int(g.refused), closest=g.n - int(g.refused),
                                    latest_question=latest[g.latest]["question"], latest_link=latest[g.latest]["link"],
                                    latest_at=latest[g.latest]["at"])
                    for g in groups),
                voted_down=tuple(
                    VotedDown(ask_id=v.ask_id, question=_get(asked, v.ask_id, "question"),
                              kind=_get(asked, v.ask_id, "kind"),
                              passages=tuple((_get(asked, v.ask_id, "passages") or "").split()),
                              down=int(v.down), up=int(v.up), link=_get(asked, v.ask_id, "link"),
                              voted_at=v.at)
                    for v in voted),
                votes_up=totals.get(1, 0),
                votes_down=totals.get(-1, 0),
            )
        return await self._guard("reading the stats", run)

    # --- in the background, and the failure policy ---

    def submit(self, coro: Awaitable[Any]) -> asyncio.Task:
        """Run a write in the background (a reply goes out without waiting for it); failures are logged by
        the failure policy, never raised."""
        async def quietly() -> None:
            try:
                await coro
            except RecordUnavailable:
                pass
            except Exception:
                log.exception("a background write to the record failed")
        task = asyncio.get_running_loop().create_task(quietly())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def drain(self, timeout: float = 5.0) -> None:
        """Wait for the background writes (at most ``timeout`` seconds)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def close(self) -> None:
        await self.drain()
        await self.engine.dispose()

    async def _guard(self, what: str, fn: Callable[[AsyncConnection], Awaitable[T]] | Callable[[], Awaitable[T]],
                     *, migrate_first: bool = True) -> T:
        try:
            async with asyncio.timeout(OPERATION_TIMEOUT):
                if not migrate_first:
                    result = await fn()  # type: ignore[call-arg]
                else:
                    if not self._migrated:
                        await self._migrate()
                    async with self.engine.begin() as conn:
                        result = await fn(conn)  # type: ignore[call-arg]
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if self._healthy:
                self._healthy = False
                log.error("the record database (%s) is unavailable: %s failed (%s: %s). Answers go on; "
                          "recording resumes when it is back (further failures are not logged).",
                          safe_url(self.url), what, type(exc).__name__, exc)
            else:
                log.debug("the record is still unavailable: %s failed", what, exc_info=True)
            raise RecordUnavailable(what) from exc
        if not self._healthy:
            self._healthy = True
            log.warning("the record database is reachable again; recording resumed")
        return result


def _engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_async_engine(url, connect_args={"timeout": 5})

        from sqlalchemy import event

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:  # several processes may share the file
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=5000")
            cur.close()
        return engine
    options: dict[str, Any] = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5, "pool_timeout": 5}
    if parsed.get_backend_name() == "postgresql":
        options["connect_args"] = {"timeout": 5, "command_timeout": OPERATION_TIMEOUT}
    return create_async_engine(url, **options)


def _upsert(conn: AsyncConnection, table: Table, values: dict, keys: Sequence[str], update: Iterable[str]):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - SQLite and PostgreSQL are what storybot supports
        raise RecordUnavailable(f"unsupported database {conn.dialect.name}")
    stmt = insert(table).values(**values)
    return stmt.on_conflict_do_update(index_elements=list(keys), set_={k: stmt.excluded[k] for k in update})


def _reply(row: Any) -> Reply:
    return Reply(ask_id=row["ask_id"], kind=row["kind"], question=row["question"],
                 passages=tuple(row["passages"].split()), member=row["member"], corpus=row["corpus"],
                 via=row["via"], private=row["private"], story=row["story"], guild_id=row["guild_id"],
                 channel_id=row["channel_id"], message_id=row["message_id"], link=row["link"], at=row["at"])


def _get(rows: dict, key: int, column: str) -> Any:
    row = rows.get(key)
    return row[column] if row is not None else None
