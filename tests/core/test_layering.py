import subprocess
import sys

from tests.conftest import ROOT


def test_the_core_never_imports_discord():
    code = ("import sys, pkgutil, importlib, bot.core as c\n"
            "for m in pkgutil.iter_modules(c.__path__): importlib.import_module('bot.core.' + m.name)\n"
            "import bot.console, bot.evaluate\n"
            "assert not any(n == 'discord' or n.startswith('discord.') for n in sys.modules), 'discord imported'\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
