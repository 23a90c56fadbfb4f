from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
QUESTIONS = Path(__file__).resolve().parent / "data" / "questions"


def write_story(folder: Path, name: str, body: str = "First paragraph.\n\nSecond paragraph.", **front: object) -> Path:
    """Write a story file; front matter defaults to a valid title and date."""
    front = {"title": "A story", "published": "2020-02", **front}
    header = "\n".join(f"{k}: {json.dumps(str(v))}" for k, v in front.items() if v is not None)
    path = folder / name
    path.write_text(f"---\n{header}\n---\n{body}\n", encoding="utf-8")
    return path


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped corpus."""
    dest = tmp_path / "corpus"
    shutil.copytree(CORPUS, dest)
    return dest
