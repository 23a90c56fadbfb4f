"""Text from stories, file names and questions, made safe to print in a terminal or an error line.

A story or a file name can hold control characters: an ESC sequence that clears the screen or draws a fake
hyperlink, a carriage return that overwrites the line before it, a right-to-left override that reverses what
follows. ``printable`` shows each of them as a visible escape (``\\x1b``), so the text stays readable and
nothing in it acts on the terminal; ``shown`` does the same for one value in an error line, shortened.
"""

from __future__ import annotations

import re

_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\udc80-\udcff]")
"""C0 controls but tab and newline, DEL, C1 controls (and U+0085), bidirectional marks and overrides, line
and paragraph separators, and bytes that could not be decoded (surrogate escapes)."""
_STYLE = re.compile("\x1b\\[[012]m")
"""The only escape sequences storybot itself prints: bold, dim and reset."""


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte os.fsdecode could not decode
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, styled: bool = False) -> str:
    """``text`` with every control character shown as an escape; with ``styled``, the bold, dim and reset
    sequences the console adds itself are kept."""
    if not styled:
        return _UNSAFE.sub(_escape, text)
    out, last = [], 0
    for m in _STYLE.finditer(text):
        out.append(_UNSAFE.sub(_escape, text[last : m.start()]))
        out.append(m.group())
        last = m.end()
    out.append(_UNSAFE.sub(_escape, text[last:]))
    return "".join(out)


def shown(text: str, limit: int = 80) -> str:
    """One value for an error line: control characters escaped, tabs and newlines too, and at most ``limit``
    characters of it (then an ellipsis and its length)."""
    size = len(text)
    text = printable(text).replace("\t", "\\t").replace("\n", "\\n")
    if len(text) > limit:
        return f"{text[: limit - 1]}… ({size:,} characters)"
    return text
