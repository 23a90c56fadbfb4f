"""The on-disk snapshot cache: a restart over an unchanged corpus loads arrays instead of re-parsing,
re-tokenizing and re-indexing every story.

It stores and checks arrays and texts (``Stored``); what they mean as stories is the core's business
(``bot/core/parts.py``); the corpus fingerprint is ``bot/core/corpus.py``'s.

A cache belongs to exactly one corpus content: its name is a digest of every story file's name and bytes
(the corpus fingerprint) and of its *base*: the cache format, the source of the modules that build a
snapshot, the libraries' versions, the index parameters and the file size cap. Any change to any file gives
another key, so a stale cache is never found, let alone served; a cache that cannot be read whole and
consistent is deleted and rebuilt, with a log line saying why. When the corpus changed, the last cache of
the same base still holds every unchanged story, passage, timeline event and index entry: ``lookup`` hands
it over to be reused (``splice.py``), so a reload after one edit costs about what a warm start does.

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
from pathlib import Path
from typing import Any, Callable, NamedTuple, Sequence, TypeVar

import numpy as np

from ..display import shown
from ..files import NotAFile, open_regular
from .index import Bm25Index, Entries, Params
from .table import PassageTable

log = logging.getLogger(__name__)

FORMAT_VERSION = 2
"""Bump when the layout of the cache file changes."""
_SOURCES = ("cache.py", "index.py", "table.py")
"""The archive's modules whose code decides what a snapshot holds (the core names its own): editing any of
them invalidates every cache."""
_LIBRARIES = ("PyStemmer", "lemminflect", "PyYAML", "pydantic", "pydantic-core", "rank-bm25", "numpy")
"""The libraries whose output a snapshot holds (stems, lemmas, parsed front matter, validated fields, idf, floats):
a cache made with other versions of any of them is not served. The Python version and its Unicode database
(case folding, NFKC, what `\\w` matches) count too."""
KEEP = 3
"""How many cache files (the most recently used) to keep in the cache folder."""
_CHUNK_DOCS = 256
_CHUNK_LINES = 8192

T = TypeVar("T")


class CacheMiss(Exception):
    """The cache cannot serve this corpus; the message says why."""


class Events(NamedTuple):
    """Timeline events as columns: every story's own events, story after story."""
    dates: np.ndarray
    """(year, month, day) of each event, 0 for an unknown month or day."""
    texts: list[str]
    passage_ids: list[str]
    positions: np.ndarray
    """Where each event's passage is in the passage table."""


class Stored(NamedTuple):
    """A snapshot as the cache holds it: arrays and texts."""
    fingerprint: str
    stories: dict[str, list]
    """One column per story field (JSON values), in story order."""
    paragraphs: list[tuple[str, ...]]
    """Each story's paragraphs."""
    passages: PassageTable
    index: Bm25Index
    events: Events
    timeline: np.ndarray
    """The timeline: which ``events``, in what order (a story can repeat an earlier story's sentence)."""
    entries: Callable[[], Entries]
    """The index's entries (read from the cache only when a splice needs them)."""


class Fingerprint(NamedTuple):
    digest: str
    """The corpus fingerprint (see ``bot/core/corpus.py``)."""
    files: tuple[tuple[str, str], ...]
    """Each story file's name and sha256, in order."""


def code_digest(sources: Sequence[Path]) -> str:
    """A digest of the archive's own modules and of ``sources`` (the caller's modules that shape a snapshot)."""
    here = Path(__file__).resolve().parent
    return _digest((*(here / name for name in _SOURCES), *map(Path, sources)))


def _digest(paths: tuple[Path, ...]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(f"{path.parent.name}/{path.name}".encode() + b"\0" + path.read_bytes())
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


def base_key(params: Params, max_file_bytes: int, sources: Sequence[Path] = ()) -> str:
    """What a cache's key says besides the corpus: caches with the same base hold stories built the same way,
    so one's stories can be reused for another corpus (``splice.py``)."""
    spec = {"format": FORMAT_VERSION, "code": code_digest(tuple(sources)), "libraries": library_versions(),
            "params": asdict(params), "max_file_bytes": max_file_bytes}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()


def cache_key(base: str, corpus_fingerprint: str) -> str:
    return hashlib.sha256(f"{base}\0{corpus_fingerprint}".encode()).hexdigest()


def cache_path(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / f"snapshot-{key[:40]}"


def _pointer(cache_dir: Path, folder: Path) -> Path:
    where = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return cache_dir / f"corpus-{where}.txt"


# --- loading-------------------------------------------------------------------------------------------------


def lookup(cache_dir: str | Path, folder: str | Path, *, base: str, fingerprint: Callable[[], Fingerprint | None],
           make: Callable[[Stored], T], reuse: Callable[[Stored, Fingerprint], T | None] | None = None,
           checkpoint: Callable[[], None] | None = None) -> T | None:
    """``make`` of the snapshot cached for ``folder`` as its files are now; failing that, ``reuse`` of the
    snapshot last cached for it (when built the same way: the same ``base``) with the folder's fingerprint
    now, to rebuild only what changed; or None (with a log line saying why). ``fingerprint()`` fingerprints
    the folder's files (None: they cannot be a corpus as they stand).

    Hashing every file of an archive takes a while (0.3 s at 300k passages), so the cache last written
    for this folder is read meanwhile: it is the one served when the files turn out to be the ones it was
    made from (its key is the digest of the corpus as it is now, see ``cache_key``), and the one reused
    when they are not.
    """
    cache_dir, folder = Path(cache_dir), Path(folder)
    checkpoint = checkpoint or (lambda: None)
    guess = _last_key(cache_dir, folder)
    if guess is None and not _any_snapshot(cache_dir):  # nothing to find: no need to hash the files first
        log.info("no index cache for %s: none was written for this folder yet; building it", folder)
        return None
    with ThreadPoolExecutor(1, thread_name_prefix="storybot-fingerprint") as pool:
        hashing = pool.submit(fingerprint)
        early = None
        if guess is not None and cache_path(cache_dir, guess).exists():
            early = _load(cache_dir, folder, guess, checkpoint, announce=False)
        current = hashing.result()
    if current is None:
        return None  # the folder cannot be a valid corpus as it stands: load_corpus will say why
    key = cache_key(base, current.digest)
    if key == guess and early is not None:
        log.info("loaded %s from the index cache %s (%s)", folder, cache_path(cache_dir, key).name,
                 "its files are byte for byte the corpus's")
        return _made(make, early)
    if key == guess and not cache_path(cache_dir, key).exists():
        return None  # it was unusable, and deleted: the warning said why
    if cache_path(cache_dir, key).exists():
        del early
        found = _load(cache_dir, folder, key, checkpoint)
        return None if found is None else _made(make, found)
    why = _why_missing(cache_dir, folder, current)
    if early is not None and reuse is not None and early.base == base:
        started = time.perf_counter()
        try:
            reused = reuse(early.stored, current)
        except (CacheMiss, OSError) as exc:  # its entries could not be read (a damaged file, or pruned meanwhile)
            log.warning("could not reuse the index cache %s (%s: %s)", cache_path(cache_dir, guess).name,
                        type(exc).__name__, exc)
            reused = None
        if reused is not None:
            log.info("no index cache for %s: %s; rebuilt it reusing the unchanged stories of %s in %.2f s",
                     folder, why, cache_path(cache_dir, guess).name, time.perf_counter() - started)
            return reused
    log.info("no index cache for %s: %s; building it", folder, why)
    return None


class _Loaded(NamedTuple):
    stored: Stored
    base: str


def _made(make: Callable[[Stored], T], loaded: _Loaded) -> T:
    # No automatic collections while a snapshot's objects are made (they would walk them again and again:
    # a third of the load's time); the checkpoints collect and settle them as the load goes.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return make(loaded.stored)
    finally:
        if enabled:
            gc.enable()


def read(cache_dir: str | Path, folder: str | Path, key: str, checkpoint: Callable[[], None]) -> Stored | None:
    """The snapshot cached under ``key`` for ``folder`` (None, with a log line, when it cannot be read whole)."""
    loaded = _load(Path(cache_dir), Path(folder), key, checkpoint)
    return None if loaded is None else loaded.stored


def _load(cache_dir: Path, folder: Path, key: str, checkpoint: Callable[[], None],
          announce: bool = True) -> _Loaded | None:
    path = cache_path(cache_dir, key)
    started = time.perf_counter()
    enabled = gc.isenabled()
    gc.disable()
    try:
        loaded = _read_parts(path, key, checkpoint)
    except Exception as exc:  # noqa: BLE001 - whatever is wrong with the file, it is not served
        log.warning("index cache %s is unusable (%s: %s); deleting it and rebuilding", path,
                    type(exc).__name__, exc)
        _remove(path)
        return None
    finally:
        if enabled:
            gc.enable()
    try:
        os.utime(path)  # most recently used: kept by prune()
    except OSError:
        pass
    if announce:
        log.info("loaded %s from the index cache %s in %.2f s", folder, path.name, time.perf_counter() - started)
    return loaded


def _any_snapshot(cache_dir: Path) -> bool:
    try:
        with os.scandir(cache_dir) as entries:
            return any(e.name.startswith("snapshot-") for e in entries)
    except OSError:
        return False


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


def _read_parts(path: Path, key: str, checkpoint: Callable[[], None], keep_open: bool = True) -> _Loaded:
    """The snapshot cached at ``path``; what is read only when needed (the index's entries and dense
    columns) is read from ``path`` later, unless ``keep_open`` is false."""
    z = _Reader(path)
    meta = z.meta
    if meta.get("format") != FORMAT_VERSION or meta.get("key") != key:
        raise CacheMiss("it was written for another corpus or version")
    n_docs, n_passages = meta["documents"], meta["passages"]

    docs = {f: json.loads(_text(z[f"doc_{f}"])) for f in meta["fields"]}
    counts = z["doc_paragraphs"].tolist()
    offsets = z["doc_offsets"].tolist()
    if any(len(col) != n_docs for col in docs.values()) or len(counts) != n_docs or len(offsets) != n_docs + 1:
        raise CacheMiss("the story columns differ in length")
    blob = z["paragraphs"]
    if len(blob) != offsets[-1]:
        raise CacheMiss("the paragraph text is truncated")
    own: list[tuple[str, ...]] = []
    paragraphs: list[str] = []
    for a in range(0, n_docs, _CHUNK_DOCS):  # decode a few hundred stories at a time: short GIL holds
        b = min(a + _CHUNK_DOCS, n_docs)
        chunk = blob[offsets[a] : offsets[b]].tobytes().decode("utf-8").split("\n")
        if len(chunk) != sum(counts[a:b]) + 1 or chunk[-1] != "":  # each story's text ends with "\n"
            raise CacheMiss("the paragraph text does not match the paragraph counts")
        del chunk[-1]
        paragraphs.extend(chunk)
        at = 0
        for i in range(a, b):
            own.append(tuple(chunk[at : at + counts[i]]))
            at += counts[i]
        checkpoint()

    cols = {name: z[f"passage_{name}"] for name in ("doc", "para", "number", "part", "start", "end")}
    if any(len(c) != n_passages for c in cols.values()):
        raise CacheMiss("the passage columns differ in length")
    if n_passages and (cols["doc"].max() >= n_docs or cols["para"].max() >= len(paragraphs)
                       or cols["doc"].min() < 0 or cols["para"].min() < 0):
        raise CacheMiss("a passage points past the stories")
    table = PassageTable(docs["id"], paragraphs, **cols)

    terms = _lines(z["terms"], checkpoint)
    arrays = {name: z[f"index_{name}"] for name in ("df", "idf", "indptr", "indices", "data")}
    if len(terms) != len(arrays["df"]):
        raise CacheMiss("the vocabulary and the index differ in length")
    if len(arrays["indices"]) and (arrays["indices"].max() >= n_passages or arrays["indices"].min() < 0):
        raise CacheMiss("the index points past the passages")
    vocabulary: dict[str, int] = {}
    for a in range(0, len(terms), _CHUNK_LINES):
        vocabulary.update(zip(terms[a : a + _CHUNK_LINES], range(a, a + _CHUNK_LINES)))
        checkpoint()
    if len(vocabulary) != len(terms):
        raise CacheMiss("the vocabulary repeats a term")
    def dense() -> dict[int, np.ndarray]:  # read when the index is prepared to serve (a reused cache's never is)
        return dict(zip(z["dense_terms"].tolist(), z["dense"]))

    index = Bm25Index.from_arrays(Params(**meta["params"]), vocabulary, size=n_passages,
                                  dense=dense if keep_open else None, **arrays)

    events = _read_events(z, table, checkpoint)
    timeline = z["event_timeline"]
    if len(events.texts) != meta["events"] or len(timeline) != meta["timeline"]:
        raise CacheMiss("the timeline is truncated")
    if len(timeline) and (timeline.max() >= len(events.texts) or timeline.min() < 0):
        raise CacheMiss("the timeline points past the events")

    def entries() -> Entries:
        out = Entries(z["entry_counts"], z["entry_ranks"], z["passage_length"])
        if len(out.counts) != len(index.indices) or len(out.ranks) != len(out.counts) or len(out.lengths) != n_passages:
            raise CacheMiss("the index entries differ in length from the index")
        return out

    stored = Stored(meta["fingerprint"], docs, own, table, index, events, timeline, entries)
    return _Loaded(stored, meta.get("base", ""))


def _read_events(z: _Reader, table: PassageTable, checkpoint: Callable[[], None]) -> Events:
    ymd = z["event_date"]
    where = z["event_passage"]
    texts = _lines(z["event_text"], checkpoint)
    pids = _lines(z["event_passage_id"], checkpoint)
    if not (len(ymd) == len(where) == len(texts) == len(pids)):
        raise CacheMiss("the timeline columns differ in length")
    if len(where) and (where.max() >= len(table) or where.min() < 0):
        raise CacheMiss("an event points past the passages")
    return Events(ymd, texts, pids, where)


def _text(a: np.ndarray) -> str:
    return a.tobytes().decode("utf-8")


def _lines(a: np.ndarray, checkpoint: Callable[[], None]) -> list[str]:
    """The lines of UTF-8 text ``a``, decoded ``_CHUNK_LINES`` at a time (a line never ends inside a character)."""
    if not len(a):
        return []
    ends = np.append(np.flatnonzero(a == 10), len(a))  # each line's end, at its newline
    lines: list[str] = []
    start = 0
    for last in range(_CHUNK_LINES - 1, len(ends) + _CHUNK_LINES - 1, _CHUNK_LINES):
        end = int(ends[min(last, len(ends) - 1)])
        lines.extend(a[start:end].tobytes().decode("utf-8").split("\n"))
        start = end + 1
        checkpoint()
    return lines


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
        except (ValueError, EOFError) as exc:
            raise CacheMiss(f"{name}.npy is not an array ({exc})") from None
        if a.nbytes != nbytes or zlib.crc32(a) != crc:
            raise CacheMiss(f"{name}.npy is damaged (its size or checksum differs from the manifest's)")
        return a


# --- saving --------------------------------------------------------------------------------------------------


def save(cache_dir: str | Path, folder: str | Path | None, base: str, stored: Stored,
         files: Sequence[tuple[str, str]]) -> Path | None:
    """Write the cache for ``key`` (atomically: a reader sees the old file, the new one or none) and
    remember which files it was made from; never raises (the cache only saves time). With no ``folder``,
    the cache is a part of a corpus a worker process built (``save_part``)."""
    cache_dir = Path(cache_dir)
    started = time.perf_counter()
    key = cache_key(base, stored.fingerprint)
    path = cache_path(cache_dir, key) if folder is not None else cache_dir / f"part-{key[:40]}"
    tmp = None
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        arrays, meta = _arrays(key, base, stored)
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
        if folder is None:
            return path
        _write_pointer(_pointer(cache_dir, Path(folder)),
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


def save_part(cache_dir: str | Path, base: str, stored: Stored) -> Path | None:
    """Write a part of a corpus (some of its stories, built by a worker process) for ``load_part``."""
    return save(cache_dir, None, base, stored, ())


def load_part(path: Path, base: str, checkpoint: Callable[[], None] = lambda: None) -> Stored:
    """The part ``save_part`` wrote (raises CacheMiss when it is not whole, or not built as ``base`` says);
    the folder is removed once read: a part serves once."""
    try:
        key = json.loads((path / "manifest.json").read_text(encoding="utf-8"))["meta"]["key"]
        loaded = _read_parts(path, key, checkpoint, keep_open=False)
        if loaded.base != base:
            raise CacheMiss("the part was built by other code")
        counts, ranks, lengths = loaded.stored.entries()  # read now: the folder goes
        return loaded.stored._replace(entries=lambda: Entries(counts, ranks, lengths))
    finally:
        _remove(path)


def drop_part(path: Path) -> None:
    """Remove a part that will not be read."""
    _remove(path)


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


def _arrays(key: str, base: str, stored: Stored) -> tuple[dict[str, Any], dict[str, Any]]:
    fingerprint, stories, paragraphs, table, index, events, timeline, entries = stored
    out: dict[str, np.ndarray] = {}
    meta = {"format": FORMAT_VERSION, "key": key, "base": base, "fingerprint": fingerprint,
            "documents": len(paragraphs), "passages": len(table), "events": len(events.texts),
            "timeline": len(timeline), "params": asdict(index.params), "fields": list(stories)}
    for f, values in stories.items():
        out[f"doc_{f}"] = _bytes(json.dumps(values, ensure_ascii=False))
    out["doc_paragraphs"] = np.array([len(own) for own in paragraphs], dtype=np.int32)
    pieces = [("\n".join(own) + "\n").encode("utf-8") for own in paragraphs]
    out["doc_offsets"] = np.concatenate(([0], np.cumsum([len(p) for p in pieces], dtype=np.int64)))
    out["paragraphs"] = pieces  # type: ignore[assignment]  # never joined: that would be another copy
    for name, col in table.columns.items():
        out[f"passage_{name}"] = col
    out["terms"] = _bytes("\n".join(index.vocabulary))
    for name, a in index.arrays().items():
        out[f"index_{name}"] = a
    out["event_date"] = np.asarray(events.dates, dtype=np.int32).reshape(-1, 3)
    out["event_passage"] = np.asarray(events.positions, dtype=np.int32)
    out["event_text"] = _bytes("\n".join(events.texts))
    out["event_passage_id"] = _bytes("\n".join(events.passage_ids))
    out["event_timeline"] = np.asarray(timeline, dtype=np.int32)
    counts, ranks, lengths = entries()
    out["entry_counts"] = np.asarray(counts, dtype=np.int32)
    out["entry_ranks"] = np.asarray(ranks, dtype=np.int32)
    out["passage_length"] = np.asarray(lengths, dtype=np.int64)
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
        for tmp in [*cache_dir.glob(".snapshot-*.tmp"), *cache_dir.glob(".pointer-*.tmp"), *cache_dir.glob("part-*")]:
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
