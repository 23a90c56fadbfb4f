"""The on-disk snapshot cache: a restart over an unchanged corpus loads arrays instead of re-parsing,
re-tokenizing and re-indexing every story.

A cache belongs to exactly one corpus content: its name is a digest of every story file's name and bytes
(the corpus fingerprint), the cache format, the source of the modules that build a snapshot, the index
parameters and the file size cap. Any change to any file gives another key, so a stale cache is never found,
let alone served; a cache that cannot be read whole and consistent is deleted and rebuilt, with a log line
saying why.

A cache is a folder ``snapshot-<key>/`` of ``.npy`` arrays and a ``manifest.json`` giving each array's size
and CRC-32; it is written aside and renamed into place, so it appears whole or not at all. Numbers are
numpy arrays; text is UTF-8 with one item per line (paragraphs, sentences and terms never contain a
newline); story metadata are JSON columns. Nothing is pickled. Loading makes only the objects a snapshot
has anyway (stories, timeline events: no Passage objects) and decodes text a few thousand stories at a
time, so no single call holds the GIL for long. A small ``corpus-<folder digest>.txt`` remembers which
files the folder's last cache was made from, to say what changed when it no longer matches.
"""

from __future__ import annotations

import gc
import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import sys
import tempfile
import time
import unicodedata
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from .corpus import Corpus, Document, story_names
from .dates import PartialDate
from .display import shown
from .files import NotAFile, open_regular
from .index import Bm25Index, Params
from .passages import PassageTable
from .timeline import Event

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Bump when the layout of the cache file changes."""
_SOURCES = ("cache.py", "corpus.py", "dates.py", "index.py", "passages.py", "text.py", "timeline.py")
"""The modules whose code decides what a snapshot holds: editing any of them invalidates every cache."""
_LIBRARIES = ("PyStemmer", "lemminflect", "PyYAML", "pydantic", "pydantic-core", "rank-bm25", "numpy")
"""The libraries whose output a snapshot holds (stems, lemmas, parsed front matter, validated fields, idf, floats):
a cache made with other versions of any of them is not served. The Python version and its Unicode database
(case folding, NFKC, what `\\w` matches) count too."""
KEEP = 3
"""How many cache files (the most recently used) to keep in the cache folder."""
_CHUNK_DOCS = 2000
_DOC_FIELDS = ("id", "title", "published", "url", "publisher", "caption", "file", "sha256")


class CacheMiss(Exception):
    """The cache cannot serve this corpus; the message says why."""


class Parts(NamedTuple):
    corpus: Corpus
    passages: PassageTable
    index: Bm25Index
    events: tuple[Event, ...]


class Fingerprint(NamedTuple):
    digest: str
    """Equal to ``Corpus.fingerprint`` of the folder."""
    files: tuple[tuple[str, str], ...]
    """Each story file's name and sha256, in order."""


def fingerprint(folder: str | Path, *, max_file_bytes: int) -> Fingerprint | None:
    """The folder's corpus fingerprint, from the files' bytes alone (no parsing); None when the folder
    cannot be a valid corpus as it stands (missing, empty, a file too large or unreadable)."""
    folder = Path(folder)
    try:
        files = story_names(folder)
        if not files:
            return None
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return None
    digest = hashlib.sha256()
    out = []
    try:
        for name in files:
            try:
                encoded = name.encode("utf-8")
            except UnicodeEncodeError:
                return None  # a file name that is not UTF-8: load_corpus will say which
            try:
                with open_regular(name, dir_fd=fd) as f:  # never blocks: a FIFO or a device is refused
                    raw = f.read(max_file_bytes + 1)
            except OSError:
                return None
            if len(raw) > max_file_bytes:
                return None
            sha = hashlib.sha256(raw).hexdigest()
            out.append((name, sha))
            digest.update(encoded + f"\0{sha}\n".encode())
    finally:
        os.close(fd)
    return Fingerprint(digest.hexdigest(), tuple(out))


@lru_cache(maxsize=1)
def code_digest() -> str:
    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in _SOURCES:
        digest.update(name.encode() + b"\0" + (here / name).read_bytes())
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """The versions of everything outside storybot's own code that decides what a snapshot holds."""
    out = {"python": sys.version.split()[0], "unicode": unicodedata.unidata_version}
    for name in _LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def cache_key(corpus_fingerprint: str, params: Params, max_file_bytes: int) -> str:
    spec = {"format": FORMAT_VERSION, "code": code_digest(), "libraries": library_versions(),
            "params": asdict(params), "max_file_bytes": max_file_bytes, "corpus": corpus_fingerprint}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def cache_path(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / f"snapshot-{key[:40]}"


def _pointer(cache_dir: Path, folder: Path) -> Path:
    where = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return cache_dir / f"corpus-{where}.txt"


# --- loading -------------------------------------------------------------------------------------------------


def lookup(cache_dir: str | Path, folder: str | Path, *, params: Params, max_file_bytes: int,
           checkpoint: Callable[[], None] | None = None) -> Parts | None:
    """The cached snapshot parts of ``folder`` as its files are now, or None (with a log line saying why).

    Hashing every file of an archive takes a while (0.3 s at 300k passages), so the cache last written
    for this folder is loaded meanwhile, and served only if the files turn out to be the ones it was made
    from (its key is the digest of the corpus as it is now, see ``cache_key``).
    """
    cache_dir, folder = Path(cache_dir), Path(folder)
    guess = _last_key(cache_dir, folder)
    with ThreadPoolExecutor(1, thread_name_prefix="storybot-fingerprint") as pool:
        hashing = pool.submit(fingerprint, folder, max_file_bytes=max_file_bytes)
        early = None
        if guess is not None and cache_path(cache_dir, guess).exists():
            early = _load(cache_dir, folder, guess, checkpoint, announce=False)
        current = hashing.result()
    if current is None:
        return None  # the folder cannot be a valid corpus as it stands: load_corpus will say why
    key = cache_key(current.digest, params, max_file_bytes)
    if key == guess and early is not None:
        log.info("loaded %s from the index cache %s (%s)", folder, cache_path(cache_dir, key).name,
                 "its files are byte for byte the corpus's")
        return early
    if key == guess and not cache_path(cache_dir, key).exists():
        return None  # it was unusable, and deleted: the warning said why
    del early
    return load(cache_dir, folder, key, current, checkpoint)


def load(cache_dir: str | Path, folder: str | Path, key: str, current: Fingerprint,
         checkpoint: Callable[[], None] | None = None) -> Parts | None:
    """The snapshot parts cached under ``key``, or None (with a log line saying why). ``checkpoint`` is
    called every few thousand stories (the service settles the garbage collector there)."""
    cache_dir, folder = Path(cache_dir), Path(folder)
    if not cache_path(cache_dir, key).exists():
        log.info("no index cache for %s: %s; building it", folder, _why_missing(cache_dir, folder, current))
        return None
    return _load(cache_dir, folder, key, checkpoint)


def _load(cache_dir: Path, folder: Path, key: str, checkpoint: Callable[[], None] | None,
          announce: bool = True) -> Parts | None:
    path = cache_path(cache_dir, key)
    started = time.perf_counter()
    try:
        parts = _read(path, key, checkpoint or (lambda: None))
    except Exception as exc:  # noqa: BLE001 - whatever is wrong with the file, it is not served
        log.warning("index cache %s is unusable (%s: %s); deleting it and rebuilding", path,
                    type(exc).__name__, exc)
        _remove(path)
        return None
    try:
        os.utime(path)  # most recently used: kept by prune()
    except OSError:
        pass
    if announce:
        log.info("loaded %s from the index cache %s in %.2f s", folder, path.name, time.perf_counter() - started)
    return parts


def _read_pointer(cache_dir: Path, folder: Path) -> list[str] | None:
    """The lines of the folder's pointer file, or None when it is missing, not a file, or not text."""
    try:
        with open_regular(_pointer(cache_dir, folder)) as f:
            raw = f.read(64 << 20)
        return raw.decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None


def _last_key(cache_dir: Path, folder: Path) -> str | None:
    """The key of the cache last written for ``folder``."""
    lines = _read_pointer(cache_dir, folder)
    key = lines[0].strip() if lines else ""
    return key if len(key) == 64 and all(c in "0123456789abcdef" for c in key) else None


def _why_missing(cache_dir: Path, folder: Path, current: Fingerprint) -> str:
    """Why no cache matches: the corpus changed (which files), or the code or the settings did."""
    lines = _read_pointer(cache_dir, folder)
    try:
        old = dict(line.split("\t", 1) for line in lines[1:]) if lines else None
    except ValueError:
        old = None
    if old is None:
        return "none was written for this folder yet"
    new = dict(current.files)
    added = sorted(new.keys() - old.keys())
    removed = sorted(old.keys() - new.keys())
    edited = sorted(n for n in new.keys() & old.keys() if new[n] != old[n])
    if not (added or removed or edited):
        return ("the corpus is unchanged but the code, the cache format, the index settings or a library's "
                "version changed")
    said = []
    for label, names in (("edited", edited), ("added", added), ("removed", removed)):
        if names:
            listed = ", ".join(map(shown, names[:5])) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            said.append(f"{label} {listed}")
    return "the corpus changed since the last cache (" + "; ".join(said) + ")"


def _read(path: Path, key: str, checkpoint: Callable[[], None]) -> Parts:
    # No automatic collections while a snapshot's objects are made (they would walk them again and again:
    # a third of the load's time); ``checkpoint`` collects and settles them as the load goes.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _read_parts(path, key, checkpoint)
    finally:
        if enabled:
            gc.enable()


def _read_parts(path: Path, key: str, checkpoint: Callable[[], None]) -> Parts:
    z = _Reader(path)
    meta = z.meta
    if meta.get("format") != FORMAT_VERSION or meta.get("key") != key:
        raise CacheMiss("it was written for another corpus or version")
    n_docs, n_passages = meta["documents"], meta["passages"]

    docs = {f: json.loads(_text(z[f"doc_{f}"])) for f in _DOC_FIELDS}
    counts = z["doc_paragraphs"].tolist()
    offsets = z["doc_offsets"].tolist()
    if any(len(col) != n_docs for col in docs.values()) or len(counts) != n_docs or len(offsets) != n_docs + 1:
        raise CacheMiss("the story columns differ in length")
    blob = z["paragraphs"]
    if len(blob) != offsets[-1]:
        raise CacheMiss("the paragraph text is truncated")
    dates: dict[str, PartialDate] = {}
    for published in set(docs["published"]):
        dates[published] = PartialDate.parse(published)
    documents: list[Document] = []
    paragraphs: list[str] = []
    for a in range(0, n_docs, _CHUNK_DOCS):  # decode a few thousand stories at a time: short GIL holds
        b = min(a + _CHUNK_DOCS, n_docs)
        chunk = blob[offsets[a] : offsets[b]].tobytes().decode("utf-8").split("\n")
        if len(chunk) != sum(counts[a:b]) + 1 or chunk[-1] != "":  # each story's text ends with "\n"
            raise CacheMiss("the paragraph text does not match the paragraph counts")
        del chunk[-1]
        paragraphs.extend(chunk)
        at = 0
        for i in range(a, b):
            own = tuple(chunk[at : at + counts[i]])
            at += counts[i]
            documents.append(Document(
                id=docs["id"][i], title=docs["title"][i], published=dates[docs["published"][i]],
                paragraphs=own, url=docs["url"][i], publisher=docs["publisher"][i], caption=docs["caption"][i],
                file=docs["file"][i], sha256=docs["sha256"][i]))
        checkpoint()
    corpus = Corpus(tuple(documents), meta["fingerprint"])

    cols = {name: z[f"passage_{name}"] for name in ("doc", "para", "number", "part", "start", "end")}
    if any(len(c) != n_passages for c in cols.values()):
        raise CacheMiss("the passage columns differ in length")
    if n_passages and (cols["doc"].max() >= n_docs or cols["para"].max() >= len(paragraphs)
                       or cols["doc"].min() < 0 or cols["para"].min() < 0):
        raise CacheMiss("a passage points past the stories")
    table = PassageTable(docs["id"], paragraphs, **cols)

    terms = _lines(z["terms"])
    arrays = {name: z[f"index_{name}"] for name in ("df", "idf", "indptr", "indices", "data")}
    if len(terms) != len(arrays["df"]):
        raise CacheMiss("the vocabulary and the index differ in length")
    if len(arrays["indices"]) and (arrays["indices"].max() >= n_passages or arrays["indices"].min() < 0):
        raise CacheMiss("the index points past the passages")
    vocabulary: dict[str, int] = {}
    for a in range(0, len(terms), 100_000):
        vocabulary.update(zip(terms[a : a + 100_000], range(a, a + 100_000)))
    if len(vocabulary) != len(terms):
        raise CacheMiss("the vocabulary repeats a term")
    dense = dict(zip(z["dense_terms"].tolist(), z["dense"]))
    index = Bm25Index.from_arrays(Params(**meta["params"]), vocabulary, size=n_passages, dense=dense, **arrays)

    events = _read_events(z, table)
    if len(events) != meta["events"]:
        raise CacheMiss("the timeline is truncated")
    return Parts(corpus, table, index, events)


def _read_events(z: _Reader, table: PassageTable) -> tuple[Event, ...]:
    ymd = z["event_date"]
    where = z["event_passage"]
    texts = _lines(z["event_text"])
    pids = _lines(z["event_passage_id"])
    if not (len(ymd) == len(where) == len(texts) == len(pids)):
        raise CacheMiss("the timeline columns differ in length")
    if len(where) and (where.max() >= len(table) or where.min() < 0):
        raise CacheMiss("an event points past the passages")
    doc_ids = table.doc_ids
    docs = [doc_ids[d] for d in table.columns["doc"][where].tolist()]
    numbers = table.columns["number"][where].tolist()
    memo: dict[tuple[int, int, int], PartialDate] = {}
    dates = []
    for ymd_ in zip(*ymd.T.tolist()):
        date = memo.get(ymd_)
        if date is None:
            date = memo[ymd_] = PartialDate(*ymd_)
        dates.append(date)
    return tuple(map(Event, dates, texts, pids, docs, numbers))


def _text(a: np.ndarray) -> str:
    return a.tobytes().decode("utf-8")


def _lines(a: np.ndarray) -> list[str]:
    return _text(a).split("\n") if len(a) else []


class _Reader:
    """The arrays of a cache folder, each checked against the size and CRC-32 the manifest gives."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            with open_regular(path / "manifest.json") as f:  # never blocks: a FIFO or a device is refused
                manifest = json.loads(f.read(64 << 20).decode("utf-8"))
        except NotAFile as exc:
            raise CacheMiss(f"manifest.json {exc.strerror}") from None
        self.meta: dict[str, Any] = manifest["meta"]
        self.arrays: dict[str, list] = manifest["arrays"]

    def __getitem__(self, name: str) -> np.ndarray:
        nbytes, crc = self.arrays[name]
        try:
            with open_regular(self.path / f"{name}.npy") as f:
                a = np.load(f, allow_pickle=False)
        except NotAFile as exc:
            raise CacheMiss(f"{name}.npy {exc.strerror}") from None
        if a.nbytes != nbytes or zlib.crc32(a) != crc:
            raise CacheMiss(f"{name}.npy is damaged (its size or checksum differs from the manifest's)")
        return a


# --- saving --------------------------------------------------------------------------------------------------


def save(cache_dir: str | Path, folder: str | Path, key: str, parts: Parts, files: Sequence[tuple[str, str]]) -> Path | None:
    """Write the cache for ``key`` (atomically: a reader sees the old file, the new one or none) and
    remember which files it was made from; never raises (the cache only saves time)."""
    cache_dir, folder = Path(cache_dir), Path(folder)
    started = time.perf_counter()
    path = cache_path(cache_dir, key)
    tmp = None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        arrays, meta = _arrays(key, parts)
        tmp = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".snapshot-", suffix=".tmp"))
        sums = {}
        for name, a in arrays.items():
            if isinstance(a, list):  # pieces of text, written one after another
                sums[name] = _save_pieces(tmp / f"{name}.npy", a)
                continue
            a = np.ascontiguousarray(a)
            np.save(tmp / f"{name}.npy", a, allow_pickle=False)
            sums[name] = [a.nbytes, zlib.crc32(a)]
        del arrays
        (tmp / "manifest.json").write_text(json.dumps({"meta": meta, "arrays": sums}), encoding="utf-8")
        try:
            os.rename(tmp, path)  # atomic: readers see the whole folder or none
        except OSError:
            if not (path / "manifest.json").exists():
                raise
            _remove(tmp)  # another process wrote the same snapshot meanwhile
        tmp = None
        _write_pointer(_pointer(cache_dir, folder),
                       f"{key}\n" + "".join(f"{name}\t{sha}\n" for name, sha in files))
    except Exception as exc:  # noqa: BLE001
        log.warning("could not write the index cache in %s (%s: %s); the bot works without it",
                    cache_dir, type(exc).__name__, exc)
        if tmp is not None:
            _remove(tmp)
        return None
    log.info("wrote the index cache %s (%.0f MB) in %.2f s", path.name,
             sum(f.stat().st_size for f in path.iterdir()) / 1e6, time.perf_counter() - started)
    prune(cache_dir, keep=path)
    return path


def _write_pointer(path: Path, text: str) -> None:
    """Write aside, then rename over: whatever ``path`` was (a FIFO would block a plain write), it is
    replaced whole."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".pointer-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _arrays(key: str, parts: Parts) -> tuple[dict[str, Any], dict[str, Any]]:
    corpus, table, index, events = parts
    docs = corpus.documents
    out: dict[str, np.ndarray] = {}
    meta = {"format": FORMAT_VERSION, "key": key, "fingerprint": corpus.fingerprint, "documents": len(docs),
            "passages": len(table), "events": len(events), "params": asdict(index.params)}
    columns = {f: [] for f in _DOC_FIELDS}
    for d in docs:
        for f in _DOC_FIELDS:
            value = getattr(d, f)
            columns[f].append(str(value) if f == "published" else value)
    for f, values in columns.items():
        out[f"doc_{f}"] = _bytes(json.dumps(values, ensure_ascii=False))
    out["doc_paragraphs"] = np.array([len(d.paragraphs) for d in docs], dtype=np.int32)
    pieces = [("\n".join(d.paragraphs) + "\n").encode("utf-8") for d in docs]
    out["doc_offsets"] = np.concatenate(([0], np.cumsum([len(p) for p in pieces], dtype=np.int64)))
    out["paragraphs"] = pieces  # type: ignore[assignment]  # never joined: that would be another copy
    for name, col in table.columns.items():
        out[f"passage_{name}"] = col
    out["terms"] = _bytes("\n".join(index.vocabulary))
    for name, a in index.arrays().items():
        out[f"index_{name}"] = a
    out["event_date"] = np.array([(e.date.year, e.date.month, e.date.day) for e in events],
                                 dtype=np.int32).reshape(-1, 3)
    out["event_passage"] = np.array([table.position(e.passage_id) for e in events], dtype=np.int32)
    out["event_text"] = _bytes("\n".join(e.text for e in events))
    out["event_passage_id"] = _bytes("\n".join(e.passage_id for e in events))
    dense = index.dense_columns()
    out["dense_terms"] = np.array(sorted(dense), dtype=np.int64)
    out["dense"] = np.array([dense[t] for t in sorted(dense)], dtype=np.float64).reshape(len(dense), index.size)
    return out, meta


def _save_pieces(path: Path, pieces: list[bytes]) -> list[int]:
    """Save the concatenation of ``pieces`` as a uint8 .npy file without joining them in memory."""
    total = sum(map(len, pieces))
    crc = 0
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "|u1", "fortran_order": False, "shape": (total,)})
        for piece in pieces:
            f.write(piece)
            crc = zlib.crc32(piece, crc)
    return [total, crc]


def _bytes(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8)


def prune(cache_dir: Path, *, keep: Path | None = None) -> None:
    """Delete all but the ``KEEP`` most recently used caches, and leftovers of interrupted writes."""
    try:
        found = sorted(cache_dir.glob("snapshot-*"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in [p for p in found if p != keep][KEEP - 1 :]:
            _remove(old)
        for tmp in [*cache_dir.glob(".snapshot-*.tmp"), *cache_dir.glob(".pointer-*.tmp")]:
            if time.time() - tmp.stat().st_mtime > 3600:
                _remove(tmp)
    except OSError:
        pass


def _remove(path: Path) -> None:
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    except OSError:
        pass
