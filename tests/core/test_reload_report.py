"""A reload names the paragraphs it changed, by their first words."""

from __future__ import annotations

from bot.core.service import PARAGRAPHS_LISTED, StoryService
from tests.conftest import write_story


def test_the_report_names_edited_added_and_removed_paragraphs(tmp_path):
    write_story(tmp_path, "a.md", body="Alpha one two three four five six seven.\n\nBeta paragraph.\n\nGamma paragraph.")
    write_story(tmp_path, "b.md", body="Untouched story.")
    service = StoryService.open(tmp_path)
    write_story(tmp_path, "a.md", body="Alpha ONE two three four five six seven.\n\nBeta paragraph.")
    report = service.reload()
    assert report.paragraphs == ("edited a#1: “Alpha ONE two three four five…”", "removed a#3: “Gamma paragraph.”")
    lines = report.lines()
    assert "  edited a#1: “Alpha ONE two three four five…”" in lines
    assert not any("b#" in line for line in lines)  # an unchanged story is not listed

    write_story(tmp_path, "c.md", body="A new story.")  # whole stories are named as stories, not paragraphs
    report = service.reload()
    assert report.stories_added == ("c",) and report.paragraphs == ()


def test_a_long_list_is_cut(tmp_path):
    write_story(tmp_path, "a.md", body="\n\n".join(f"Paragraph {i}." for i in range(30)))
    service = StoryService.open(tmp_path)
    write_story(tmp_path, "a.md", body="\n\n".join(f"Paragraph {i} edited." for i in range(30)))
    lines = service.reload().lines()
    assert sum(1 for line in lines if line.startswith("  edited")) == PARAGRAPHS_LISTED
    assert f"  … and {30 - PARAGRAPHS_LISTED} more" in lines
