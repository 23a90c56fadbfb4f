import pytest

from bot.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in ["DISCORD_TOKEN", "GUILD_ID", "MODERATOR_ROLE_IDS", "SHARD_COUNT", "SHARD_IDS", "LOG_LEVEL",
                 "DATA_DIR", "DATABASE_URL", "RECORD_KEY", "MOD_LOG_CHANNEL_ID", "ALLOWED_CHANNEL_IDS"]:
        monkeypatch.delenv(name, raising=False)


def test_defaults_and_lists(monkeypatch):
    monkeypatch.setenv("MODERATOR_ROLE_IDS", "123, 456")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    s = load_settings()
    assert s.moderator_role_ids == (123, 456) and s.log_level == "DEBUG" and s.guild_id is None


def test_missing_token_is_one_sentence():
    with pytest.raises(SettingsError, match="DISCORD_TOKEN is not set"):
        load_settings().token()


@pytest.mark.parametrize("name, value, words", [
    ("GUILD_ID", "abc", "GUILD_ID is malformed"),
    ("MODERATOR_ROLE_IDS", "12,x", "MODERATOR_ROLE_IDS is malformed"),
    ("LOG_LEVEL", "LOUD", "LOG_LEVEL is malformed"),
    ("SHARD_IDS", "0,1", "SHARD_IDS needs SHARD_COUNT"),
])
def test_malformed_values(monkeypatch, name, value, words):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=words) as info:
        load_settings()
    assert "\n" not in str(info.value)


def test_the_token_is_never_shown(monkeypatch):
    monkeypatch.setenv("DISCORD_TOKEN", "secret.token.value")
    s = load_settings()
    assert "secret.token.value" not in repr(s) and "secret.token.value" not in str(s.model_dump())
    assert s.token() == "secret.token.value"


def test_run_without_token_exits_2(monkeypatch, capsys):
    from bot.__main__ import main
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "DISCORD_TOKEN is not set" in err


def test_invite_link_has_the_scopes_and_permissions():
    from bot.exts.launcher import invite_url
    assert invite_url(123) == ("https://discord.com/oauth2/authorize?client_id=123"
                               "&scope=bot+applications.commands&permissions=83968")


def test_record_and_moderation_settings(monkeypatch):
    from pathlib import Path

    s = load_settings()
    assert s.data_dir == Path(".data") and s.database_url is None and s.allowed_channel_ids == ()
    assert s.record_options() == {"database_url_setting": None, "key_setting": None}
    monkeypatch.setenv("ALLOWED_CHANNEL_IDS", "11, 22")
    monkeypatch.setenv("MOD_LOG_CHANNEL_ID", "")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://bot:pw-secret@db.example/storybot")
    monkeypatch.setenv("RECORD_KEY", "key-secret")
    s = load_settings()
    assert s.allowed_channel_ids == (11, 22) and s.mod_log_channel_id is None
    assert "pw-secret" not in repr(s) and "key-secret" not in repr(s)
    assert s.record_options()["database_url_setting"].endswith("@db.example/storybot")
    monkeypatch.setenv("DATABASE_URL", "postgresql://bot@db/storybot")
    with pytest.raises(SettingsError, match="DATABASE_URL is malformed: use postgresql\\+asyncpg://"):
        load_settings()


def test_env_example_loads(monkeypatch, tmp_path):
    from tests.conftest import ROOT

    (tmp_path / ".env").write_text((ROOT / ".env.example").read_text())
    s = load_settings()
    assert s.database_url is None and s.record_options()["key_setting"] in (None, "")
