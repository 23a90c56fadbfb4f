"""The arrows between the rooms: the core never imports discord; the archive imports neither the core nor
discord (the core uses the archive, never the other way round)."""

import subprocess
import sys

from tests.conftest import ROOT


def assert_imports_none(package: str, forbidden: tuple[str, ...], also: str = "") -> None:
    """Import every module of ``package`` (and ``also``) in a fresh interpreter; none of ``forbidden`` (module
    names, or their prefixes ending in a dot) may have been imported."""
    code = (f"import sys, pkgutil, importlib, {package} as p\n"
            f"for m in pkgutil.iter_modules(p.__path__): importlib.import_module('{package}.' + m.name)\n"
            f"{also}\n"
            f"bad = sorted(n for n in sys.modules if n.startswith({forbidden!r}) or n + '.' in {forbidden!r})\n"
            f"assert not bad, f'{package} imported {{bad}}'\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)


def test_the_core_never_imports_discord():
    assert_imports_none("bot.core", ("discord.",), also="import bot.console, bot.evaluate, bot.record")


def test_the_archive_never_imports_the_core_or_discord():
    assert_imports_none("bot.archive", ("bot.core.", "discord."))
