"""Settings from the environment and `.env` (see `.env.example` for every one)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

IdList = Annotated[tuple[int, ...], NoDecode]


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one sentence for the operator."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    discord_token: SecretStr | None = None
    guild_id: int | None = None
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
    mod_log_channel_id: int | None = None
    allowed_channel_ids: IdList = ()

    @field_validator("moderator_role_ids", "shard_ids", "allowed_channel_ids", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(int(part) for part in value.replace(" ", "").split(",") if part)
        if isinstance(value, int):
            return (value,)
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
        """The bot token, for discord.py only. Raises SettingsError when it is missing."""
        if self.discord_token is None or not self.discord_token.get_secret_value().strip():
            raise SettingsError("DISCORD_TOKEN is not set: copy .env.example to .env and paste your bot's token.")
        return self.discord_token.get_secret_value().strip()


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment and .env; raises SettingsError with one clear sentence."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]).upper() if err["loc"] else "a setting"
        msg = err["msg"].removeprefix("Value error, ")
        if "input" in err and err["type"] not in ("value_error",) and not name.endswith("TOKEN"):
            raise SettingsError(f"{name} is malformed ({msg}; got {err['input']!r}).") from None
        raise SettingsError(f"{name} is malformed: {msg}.") from None
