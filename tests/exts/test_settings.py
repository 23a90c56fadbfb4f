import pytest

from bot.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .env here
    for name in ["DISCORD_TOKEN", "GUILD_ID", "MODERATOR_ROLE_IDS", "SHARD_COUNT", "SHARD_IDS", "LOG_LEVEL"]:
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
