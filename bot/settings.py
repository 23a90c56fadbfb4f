"""Settings from the environment and `.env` (see `.env.example` for every one)."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IdList = Annotated[tuple[int, ...], NoDecode]
Snowflake = Annotated[int, Field(gt=0, lt=1 << 64)]
"""A Discord id: a positive 64-bit number."""
SECRETS = frozenset({"discord_token", "database_url", "record_key"})
"""Settings whose values are secrets: never shown, whatever is wrong with them."""


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one sentence for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    discord_token: SecretStr | None = None
    guild_id: Snowflake | None = None
    moderator_role_ids: IdList = ()
    corpus_dir: Path = Path("corpus")
    cache_dir: Path = Path(".cache/storybot")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    ask_cooldown_rate: int = Field(default=3, ge=1)
    ask_cooldown_seconds: float = Field(default=30.0, gt=0)
    shard_count: int | None = Field(default=None, ge=1)
    shard_ids: IdList = ()
    data_dir: Path = Path(".data")
    database_url: SecretStr | None = None
    record_key: SecretStr | None = None
    mod_log_channel_id: Snowflake | None = None
    allowed_channel_ids: IdList = ()
    reload_timeout_seconds: float = Field(default=300.0, gt=0)

    @field_validator("*", mode="before")
    @classmethod
    def _not_a_token(cls, value: Any, info: ValidationInfo) -> Any:
        if info.field_name not in SECRETS and isinstance(value, str) and looks_like_token(value):
            raise ValueError("it looks like a bot token: was DISCORD_TOKEN's value pasted here by mistake?")
        return value

    @field_validator("moderator_role_ids", "shard_ids", "allowed_channel_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            parts = [part for part in value.replace(" ", "").split(",") if part]
            if not all(part.isdigit() and part.isascii() for part in parts):
                raise ValueError("must be numbers separated by commas")
            return tuple(int(part) for part in parts)
        if isinstance(value, int):
            return (value,)
        return value

    @field_validator("moderator_role_ids")
    @classmethod
    def _role_ids(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 0 < i < 1 << 64 for i in value):
            raise ValueError("every role id must be a positive 64-bit number")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("guild_id", "shard_count", "mod_log_channel_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _shards(self) -> Settings:
        if self.shard_ids and self.shard_count is None:
            raise ValueError("SHARD_IDS needs SHARD_COUNT")
        if self.shard_count is not None and any(i >= self.shard_count for i in self.shard_ids):
            raise ValueError(f"every SHARD_IDS value must be below SHARD_COUNT ({self.shard_count})")
        return self

    @field_validator("database_url", mode="after")
    @classmethod
    def _async_driver(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        url = value.get_secret_value().strip()
        if not url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
            raise ValueError("use postgresql+asyncpg://USER:PASSWORD@HOST/DB (or sqlite+aiosqlite:///FILE): "
                             "storybot needs an async driver")
        return value

    def record_options(self) -> dict[str, Any]:
        """What ``Record.open`` needs, secrets unwrapped."""
        return {"database_url_setting": self.database_url.get_secret_value() if self.database_url else None,
                "key_setting": self.record_key.get_secret_value() if self.record_key else None}

    def token(self) -> str:
        """The bot token, for discord.py only. Raises SettingsError when it is missing or cannot be one."""
        value = self.discord_token.get_secret_value().strip() if self.discord_token is not None else ""
        if not value:
            raise SettingsError("DISCORD_TOKEN is not set: copy .env.example to .env and paste your bot's token.")
        if any(c.isspace() or not c.isprintable() for c in value):
            raise SettingsError("DISCORD_TOKEN has a line break, a space or a control character inside it: "
                                "copy the token again, as one line.")
        return value


_TOKEN = re.compile(r"[A-Za-z0-9_\-]{18,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{20,}")
"""A Discord bot token: the bot's id in base64, a timestamp and an HMAC, joined by dots."""
_LONG_RUN = re.compile(r"[A-Za-z0-9_\-+=]{32,}")
SHOWN = 12
"""At most this many characters of a malformed value are shown."""


def looks_like_token(text: str) -> bool:
    """A Discord token, or any long run of base64 that mixes upper and lower case and digits (an API key)."""
    if _TOKEN.search(text):
        return True
    return any(re.search("[a-z]", run) and re.search("[A-Z]", run) and re.search("[0-9]", run)
               for run in _LONG_RUN.findall(text))


def preview(value: Any) -> str | None:
    """What an error may show of a setting's value: None if it looks like a secret (or has control
    characters), else at most a short prefix."""
    text = value if isinstance(value, str) else repr(value)
    if looks_like_token(text) or any(not c.isprintable() for c in text):
        return None
    if len(text) > SHOWN:
        return f"'{text[:SHOWN]}…' ({len(text):,} characters)"
    return repr(text)


def _scrub(message: str, value: Any) -> str:
    """``message`` without any part of ``value`` in it (pydantic quotes some inputs in its messages)."""
    if isinstance(value, str) and len(value) > SHOWN:
        message = message.replace(value, "…")
        for part in re.split(r"[\s,;:=]+", value):
            if len(part) > SHOWN:
                message = message.replace(part, "…")
    return _LONG_RUN.sub("…", _TOKEN.sub("…", message))


def _env_file_problem(path: str | os.PathLike[str] = ".env") -> str | None:
    """Why ``.env`` cannot be read as settings (it is read before any setting is known), or None."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f".env cannot be read ({exc.strerror or exc})"
    if not stat.S_ISREG(st.st_mode):
        return ".env is not a regular file (a folder, a named pipe or a device); make it a text file"
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        return f".env cannot be read ({exc.strerror or exc})"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return f".env is not UTF-8 text (line {line}, byte 0x{raw[exc.start]:02x}); save it as UTF-8"
    return None


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and .env; raises SettingsError with one clear sentence that shows no
    more than a short prefix of any value, and nothing of a value that looks like a token."""
    env_file = overrides.get("_env_file", Settings.model_config.get("env_file"))
    if isinstance(env_file, (str, os.PathLike)):
        problem = _env_file_problem(env_file)
        if problem:
            raise SettingsError(problem + ".")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "a setting"
        value = err.get("input")
        msg = _scrub(err["msg"].removeprefix("Value error, "), value)
        secret = name.lower() in SECRETS
        shown = None if secret or isinstance(value, dict) else preview(value)
        if "looks like a bot token" in msg:
            raise SettingsError(f"{name} is malformed: {msg} (its value is not shown).") from None
        if shown is None and "input" in err and not secret and name != "a setting":
            raise SettingsError(f"{name} is malformed ({msg}); its value is not shown, as it may be a secret.") from None
        if shown is None:
            raise SettingsError(f"{name} is malformed: {msg}.") from None
        raise SettingsError(f"{name} is malformed ({msg}; got {shown}).") from None
    except UnicodeDecodeError as exc:  # pydantic-settings reads .env strictly
        raise SettingsError(f".env is not UTF-8 text ({exc.reason}); save it as UTF-8.") from None
