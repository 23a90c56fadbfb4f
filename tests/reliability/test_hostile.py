"""Hostile input, property-based: any question, any story text, any file name. Nothing raises, every embed and
view is within Discord's limits (checked by us and by the stand-in's own validator), nothing rendered could
ping anyone, and markdown in a quote cannot break the formatting around it. Oversized files and paragraphs
are refused or split within the cap; ids that look like paths are refused.

Hypothesis runs derandomized (the same examples on every run); see PROPERTIES in conftest.py.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
import types
from pathlib import Path

import discord
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bot.core.answer import Answer
from bot.core.corpus import MAX_FILE_BYTES, CorpusError, parse_story_text, valid_id
from bot.core.passages import MAX_PASSAGE_CHARS
from bot.core.service import StoryService
from bot.core.text import tokens
from bot.exts import render
from bot.exts.story import TimelinePager, timeline_message
from tests.conftest import CORPUS
from tests.e2e.fakediscord import FLAG_EPHEMERAL, FakeDiscord, InteractionRecord, validate_message

from .conftest import FOLLOW_UP, MANAGE_GUILD, PROPERTIES, captured_logs, describe, plain, quote_text, report, start_bot

PING = re.compile(r"@(everyone|here)|<@[!&]?\d+>", re.IGNORECASE)
SPACES = re.compile(r"\s+")
MARKDOWN = set("*_~|`[]<>")

HOSTILE = [
    "**", "__", "*", "_", "~~", "||", "`", "```", "\\", "\\*", "> ", ">>> ", "# ", "## ", "-# ", "- ", "+ ", "1. ",
    "2020.", "[x](https://evil.test/)", "](", "[", "]", "(", ")", "<", ">", "<@123456789012345678>",
    "<@!123456789012345678>", "<@&123456789012345678>", "<#123456789012345678>", "@everyone", "@here", "@EVERYONE",
    "@\u200beveryone", "<t:1600000000:R>", "</ask:123456789012345678>", ":smile:", "<:e:123456789012345678>",
    "https://x.test/a_b*c", "\u200b", "\u202e", "\ufeff", "e\u0301", "\U0001f1e8\U0001f1e6", "\U0001f600", "\t",
    "\u2028", "\u00a0", "\u2019", "\u2014", "\r", "\x00", "PS752", "Jan. 8, 2020", "in 2012", "last October",
]
WORDS = ["embassy", "Tehran", "Canada", "flight", "minister", "talks", "sanctions", "families", "victims", "Iran",
         "Champagne", "Zarif", "Poole", "recorders", "Ukraine", "diplomatic"]
TEXT_CHARS = st.characters(blacklist_categories=("Cs",))
PRINTABLE = st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff\u2028\u2029\x85")

piece = st.one_of(st.sampled_from(WORDS), st.sampled_from(HOSTILE), st.text(TEXT_CHARS, min_size=1, max_size=10),
                  st.from_regex(r"[A-Za-z]{1,14}", fullmatch=True))
hostile_text = st.tuples(st.lists(piece, max_size=40), st.sampled_from([" ", "", "  ", " \u00a0"])).map(
    lambda t: t[1].join(t[0]))
long_text = st.tuples(hostile_text, st.integers(1, 120)).map(lambda t: " ".join([t[0]] * t[1]))
line_text = st.one_of(st.text(PRINTABLE, min_size=1, max_size=400), hostile_text).filter(lambda s: s.strip())
LINE_STARTS = ["", "", "", "1. ", "12. ", "# ", "## ", "> ", ">>> ", "- ", "+ ", "-# ", "* ", "**", "@everyone ",
               "<@1> "]
paragraph = st.one_of(
    st.tuples(st.sampled_from(LINE_STARTS), st.one_of(hostile_text, long_text)).map("".join),
    st.lists(st.builds(lambda m, d, y, t: f"On {m} {d}, {y}, {t}.", st.sampled_from(["Jan.", "March", "Sept."]),
                       st.integers(1, 28), st.integers(1990, 2030), hostile_text), min_size=1, max_size=30)
    .map(" ".join),  # dated sentences: timelines of many pages
)
url = st.one_of(
    st.none(),
    st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1, max_size=700),
    st.lists(st.sampled_from([*"()[]<>\\_*~|`#", "a", "%20", "x" * 100]), max_size=30).map("".join),
).map(lambda p: p if p is None else "https://example.test/" + p)
any_text = st.one_of(st.text(TEXT_CHARS, max_size=300), hostile_text)


# --- checks ---------------------------------------------------------------------------------------------------------


def ws(text: str) -> str:
    return SPACES.sub(" ", text).replace("\u200b", "")


def unescaped(text: str) -> str:
    """``text`` without its backslash-escaped characters (what markdown can still act on)."""
    return re.sub(r"\\[^0-9A-Za-z\s]", "", text)


def check_no_ping(*texts: str) -> None:
    for t in texts:
        assert not PING.search(t), t
        assert not PING.search(plain(t)), t


def check_message(embed: discord.Embed, view: discord.ui.View | None = None) -> None:
    """Discord's limits, checked field by field and by the stand-in's validator; no pings anywhere."""
    data = embed.to_dict()
    title, description = data.get("title", ""), data.get("description", "")
    footer = data.get("footer", {}).get("text", "")
    fields = data.get("fields", [])
    assert len(title) <= render.TITLE and len(description) <= render.DESCRIPTION and len(footer) <= render.FOOTER
    assert len(fields) <= render.FIELDS
    for f in fields:
        assert 1 <= len(f["name"]) <= render.FIELD_NAME and 1 <= len(f["value"]) <= render.FIELD_VALUE
    total = len(title) + len(description) + len(footer) + sum(len(f["name"]) + len(f["value"]) for f in fields)
    assert total <= render.EMBED_TOTAL and len(embed) <= render.EMBED_TOTAL
    check_no_ping(title, description, footer, *(f["name"] for f in fields), *(f["value"] for f in fields))
    components = view.to_components() if view is not None else []
    if view is not None:
        assert len(view.children) <= 25
        ids = [c.custom_id for c in view.children if getattr(c, "custom_id", None)]
        assert len(ids) == len(set(ids)) and all(len(i) <= render.CUSTOM_ID for i in ids)
        for child in view.children:
            c = getattr(child, "item", child)  # a DynamicItem (the timeline's pager) wraps its button
            assert 1 <= len(c.label or "") <= render.BUTTON_LABEL
            assert c.url is None or len(c.url) <= render.BUTTON_URL
            check_no_ping(c.label or "")
    assert validate_message({"embeds": [data], "components": components}, partial=False,
                            allow_flags=FLAG_EPHEMERAL) is None


def split_bold(body: str) -> list[str]:
    """``body`` cut at its unescaped ``**`` markers: plain, bold, plain, ... (always an odd count)."""
    segments, current, i = [], [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body) and plain(body[i : i + 2]) == body[i + 1]:
            current.append(body[i : i + 2])
            i += 2
        elif body.startswith("**", i):
            segments.append("".join(current))
            current = []
            i += 2
        else:
            current.append(body[i])
            i += 1
    segments.append("".join(current))
    assert len(segments) % 2 == 1, f"unbalanced bold in {body!r}"
    return segments


def check_answer(answer: Answer, embed: discord.Embed) -> None:
    """Each quote: '> ' + the passage with the matched words (and only those) in balanced bold, then its
    citation; markdown in the passage or the title shows as written."""
    description = embed.description or ""
    quotes = answer.quotes or answer.nearest
    if not quotes:
        assert ws(plain(description)) == ws(answer.refusal or "").strip() or plain(description).endswith("…")
        return
    blocks = description.split("\n\n")
    if not answer.answered:  # "the closest the story comes": the heading that says so, in bold, then the quotes
        heading = blocks.pop(0)
        assert heading.startswith("**") and heading.endswith("**")
        assert ws(plain(heading[2:-2])) == ws(answer.refusal or "")
    assert len(blocks) == len(quotes)
    for block, quote in zip(blocks, quotes):
        body, cite = block.split("\n")
        assert body.startswith("> ")
        segments = split_bold(body[2:])
        for seg in segments:
            assert not MARKDOWN & set(unescaped(seg)), seg  # no live markdown inside or between the bold spans
        text = quote.passage.text
        shown = ws("".join(plain(s) for s in segments))
        if len(segments) > 1 or not quote.highlights:
            assert shown == ws(text)  # the whole passage, word for word
            assert [ws(plain(s)) for s in segments[1::2]] == [ws(text[a:b]) for a, b in quote.highlights]
        else:  # the bold version did not fit: the passage plain, shortened if need be
            assert shown == ws(text) or (shown.endswith("…") and ws(text).startswith(shown[:-1].rstrip()))
        check_citation(cite, quote)


def check_citation(cite: str, quote) -> None:
    assert cite.startswith("— ")
    rest = cite[2:]
    where = f", paragraph {quote.passage.paragraph}"
    if rest.startswith("["):
        label, sep, link = split_link(rest)
        assert sep and link and not re.search(r"[\s()<>\\]", link), cite
        assert not set("[]") & set(unescaped(label)), label  # the label cannot end early or nest
    else:
        label = rest
    shown = ws(plain(label))
    assert shown.endswith(where)
    title, expected = shown[: -len(where)].strip(), ws(quote.document.title).strip()
    assert title == expected or (title.endswith("…") and expected.startswith(title[:-1].rstrip()))


def split_link(text: str) -> tuple[str, str, str]:
    """'[label](link)' -> (label, '](', link), honouring escapes in the label."""
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "]":
            assert text[i : i + 2] == "](" and text.endswith(")"), text
            return text[1:i], "](", text[i + 2 : -1]
        i += 1
    raise AssertionError(f"unclosed link label in {text!r}")


# --- questions -------------------------------------------------------------------------------------------------------

slowest_ask = [0.0]


@pytest.fixture(scope="module")
def shipped() -> StoryService:
    """The shipped corpus, opened once for this module's questions."""
    return StoryService.open(CORPUS)


@PROPERTIES
@given(question=st.one_of(hostile_text, long_text, st.text(TEXT_CHARS, max_size=4000),
                          st.lists(st.sampled_from(WORDS + HOSTILE), max_size=12).map(" ".join)))
def test_any_question_renders_within_limits(shipped, question):
    started = time.perf_counter()
    answer = shipped.ask(question)
    slowest_ask[0] = max(slowest_ask[0], time.perf_counter() - started)
    embed, view = render.answer_embed(answer), render.answer_view(answer)
    check_message(embed, view)
    check_answer(answer, embed)


def test_questions_never_stall_the_event_loop(shipped):
    """The slowest of all the questions above, answered synchronously on the event loop (as /ask does)."""
    for q in ["a" * 4000, ("embassy " * 500), "x" * 300, " ".join(["abcdefghij"] * 100), "\U0001f600" * 1000]:
        started = time.perf_counter()
        shipped.ask(q)
        slowest_ask[0] = max(slowest_ask[0], time.perf_counter() - started)
    assert slowest_ask[0] < 0.25
    report("hostile questions", slowest_ask_ms=round(slowest_ask[0] * 1000, 2))


# --- stories -------------------------------------------------------------------------------------------------------


def story_file(title: str, paragraphs: list[str], *, url: str | None, publisher: str | None,
               published: str = "2020-02", doc_id: str | None = None) -> str:
    front = {"title": title, "published": published, "url": url, "publisher": publisher, "id": doc_id}
    header = "\n".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in front.items() if v is not None)
    return f"---\n{header}\n---\n" + "\n\n".join(paragraphs) + "\n"


@pytest.mark.slow
@PROPERTIES
@given(title=line_text, paragraphs=st.lists(paragraph, min_size=1, max_size=6),
       link=url, publisher=st.one_of(st.none(), line_text), data=st.data())
def test_any_story_renders_within_limits(title, paragraphs, link, publisher, data):
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "story.md").write_text(story_file(title, paragraphs, url=link, publisher=publisher), "utf-8")
        (folder / "other.md").write_text(story_file(title[::-1] or "x", paragraphs[::-1], url=link,
                                                    publisher=None, published="2021"), "utf-8")
        try:
            service = StoryService.open(folder)
        except CorpusError as exc:  # a story with no words, a title YAML cannot hold ...: refused, and said why
            assert exc.problems
            check_message(render.problems_embed(exc.problems))
            assume(False)
        text = " ".join(p.text for p in service.snapshot.passages)
        words = [text[t.start : t.end] for t in tokens(text)] or ["embassy"]
        question = data.draw(st.lists(st.one_of(st.sampled_from(words), st.sampled_from(HOSTILE)),
                                      min_size=1, max_size=8).map(" ".join), label="question")
        answer = service.ask(question)
        embed = render.answer_embed(answer)
        check_message(embed, render.answer_view(answer))
        check_answer(answer, embed)

        contains = data.draw(st.one_of(st.none(), st.text(TEXT_CHARS, min_size=1, max_size=40)), label="contains")
        year = data.draw(st.one_of(st.none(), st.integers(1000, 9999)), label="year")
        bot = types.SimpleNamespace(service=service)
        events = service.timeline(year=year, contains=contains)
        for page in range(render.page_count(events)):
            message = timeline_message(bot, 123456789012345678, page, year, contains)  # type: ignore[arg-type]
            check_message(message["embed"], message["view"])
        check_message(render.sources_embed(service.sources()))

        (folder / "other.md").unlink()
        check_message(render.reload_embed(service.reload()))
        name = data.draw(any_text.map(lambda n: n.replace("/", "").replace("\x00", "")[:60])
                         .filter(lambda n: n and not n.startswith(".")), label="file name")
        try:
            (folder / f"{name}.md").write_text("not a story", "utf-8")
        except OSError:
            return  # a name this file system does not take
        with pytest.raises(CorpusError) as refused:
            service.reload()
        check_message(render.problems_embed(refused.value.problems))


@PROPERTIES
@given(problems=st.lists(st.tuples(any_text, st.one_of(any_text, st.text(TEXT_CHARS, max_size=3000), long_text)),
                         min_size=1, max_size=300))
def test_any_problems_render_within_limits(problems):
    from bot.core.corpus import Problem

    check_message(render.problems_embed([Problem(f, m) for f, m in problems]))


@PROPERTIES
@given(user=st.integers(0, 2**64 - 1), page=st.integers(0, 10**6), year=st.one_of(st.none(), st.integers(1000, 9999)),
       contains=st.one_of(st.none(), st.text(TEXT_CHARS, min_size=1, max_size=40)))
def test_timeline_buttons_carry_their_state_whatever_the_filter(user, page, year, contains):
    button = TimelinePager(user, page, year, contains)
    custom_id = button.custom_id
    assert len(custom_id) <= render.CUSTOM_ID
    match = TimelinePager.__discord_ui_compiled_template__.fullmatch(custom_id)  # how discord.py dispatches
    assert match is not None
    assert (int(match["user"]), int(match["page"]), int(match["year"]) if match["year"] else None,
            match["contains"] or None) == (user, page, year, contains)


# --- story files -----------------------------------------------------------------------------------------------------


@PROPERTIES
@given(text=st.one_of(st.text(TEXT_CHARS, max_size=2000),
                      st.builds(lambda head, body: f"---\n{head}\n---\n{body}", st.text(TEXT_CHARS, max_size=300),
                                hostile_text),
                      st.builds(lambda k, v, body: f"---\ntitle: x\npublished: 2020\n{k}: {v}\n---\n{body}",
                                st.sampled_from(["title", "published", "id", "url", "publisher", "caption", "<<",
                                                 "? [a]", "!!binary aGk=", "&a x"]),
                                st.text(TEXT_CHARS, max_size=60), hostile_text)))
def test_any_story_text_loads_or_is_refused_with_a_reason(text):
    try:
        doc = parse_story_text(text, "story", file="story.md")
    except ValueError as exc:
        assert str(exc)
        return
    assert doc.paragraphs and all(p.strip() for p in doc.paragraphs) and valid_id(doc.id)


def test_deeply_nested_front_matter_is_refused_with_a_reason():
    nested = "[" * 1000 + "]" * 1000
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_story_text(f"---\ntitle: {nested}\npublished: 2020\n---\nText.\n", "story")


@pytest.mark.asyncio
@pytest.mark.e2e
async def test_a_reload_that_raises_says_which_corpus_serves(corpus_dir, monkeypatch):
    """Whatever a reload raises besides a CorpusError: first a failure while building (injected), so the old
    corpus still serves; then a failure after the swap (injected), so the new one does. The moderator is told which, the log has the traceback, and members are answered throughout."""
    import bot.core.service as service_module

    with captured_logs() as logs:
        async with FakeDiscord() as fd:
            await start_bot(fd, corpus_dir)
            admin = fd.add_member("admin", permissions=MANAGE_GUILD)
            nested = corpus_dir / "nested.md"
            build = service_module.build_snapshot

            def broken_build(*args, **kwargs):
                raise RuntimeError("a bug while building")

            monkeypatch.setattr(service_module, "build_snapshot", broken_build)
            failed = await (await fd.slash("reload", {}, user=admin)).wait_final(timeout=10)
            assert failed.ephemeral
            assert failed.embeds[0]["title"] == "Reload failed: the corpus that was serving still is"
            answer = await (await fd.slash("ask", {"question": "Who is Mike Poole?"}, user=admin)).wait_final()
            assert "**Mike Poole**" in quote_text(answer)

            monkeypatch.setattr(service_module, "build_snapshot", build)
            nested.write_text(FOLLOW_UP, "utf-8")
            monkeypatch.setattr(service_module, "diff", lambda *a, **k: 1 / 0)  # fails after the swap
            late = await (await fd.slash("reload", {}, user=admin)).wait_final(timeout=10)
            assert late.embeds[0]["title"] == "Reload finished with an error: the new corpus is serving"
            answer = await (await fd.slash("ask", {"question": "Will the recorders be sent to France?"},
                                           user=admin)).wait_final()
            assert "France" in quote_text(answer)
            await fd.stop_bot()
    first, second = logs.errors()
    assert first.name == second.name == "bot.exts.admin"
    assert first.exc_info[0] is RuntimeError and second.exc_info[0] is ZeroDivisionError


BAD_IDS = ["../x", "a/b", "..", ".", "/etc/passwd", "x/../../y", "a\\b", "..\\x", "~/x", ".hidden", "a..b", "a.",
           "C:\\x", "a b", "%2e%2e", "a\x00b", "a\nb", "-x", "x" * 101]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_ids_that_look_like_paths_are_refused(bad):
    with pytest.raises(ValueError, match="not a valid id"):
        parse_story_text(f"---\ntitle: x\npublished: 2020\nid: {json.dumps(bad)}\n---\nText.\n", "story")


@PROPERTIES
@given(candidate=st.text(TEXT_CHARS, min_size=1, max_size=120))
def test_no_accepted_id_can_name_another_path(candidate):
    if valid_id(candidate):
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", candidate) and ".." not in candidate
        assert "/" not in candidate and "\\" not in candidate and not candidate.endswith(".")


# --- sizes -----------------------------------------------------------------------------------------------------------


def test_a_10_mb_file_is_refused_without_reading_it(tmp_path, corpus_dir):
    service = StoryService.open(corpus_dir)
    huge = corpus_dir / "huge.md"
    with open(huge, "wb") as f:
        f.write(b"---\ntitle: Huge\npublished: 2020\n---\n")
        f.write(b"embassy Tehran sanctions. " * (10 * 1024 * 1024 // 26 + 1))
    assert huge.stat().st_size >= 10 * 1024 * 1024
    old = service.snapshot
    started = time.perf_counter()
    with pytest.raises(CorpusError) as refused:
        service.reload()
    took = time.perf_counter() - started
    [problem] = refused.value.problems
    assert problem.file == "huge.md" and f"the limit is {MAX_FILE_BYTES:,}" in problem.message
    assert service.snapshot is old
    check_message(render.problems_embed(refused.value.problems))
    report("10 MB file", refused=True, seconds=round(took, 3), limit_bytes=MAX_FILE_BYTES)


@pytest.mark.parametrize("shape", ["sentences", "no-full-stops", "one-word"])
def test_a_1_mb_paragraph_is_split_within_the_cap_and_nothing_is_lost(corpus_dir, shape):
    sentence = "The embassy in Tehran stayed closed while ministers argued over sanctions and compensation. "
    paragraph = {"sentences": sentence * (1_000_000 // len(sentence)),
                 "no-full-stops": sentence.replace(".", "") * (1_000_000 // len(sentence)),
                 "one-word": "a" * 1_000_000}[shape].strip()
    (corpus_dir / "long.md").write_text(f"---\ntitle: Long\npublished: 2020\n---\n{paragraph}\n", "utf-8")
    started = time.perf_counter()
    service = StoryService.open(corpus_dir)
    took = time.perf_counter() - started
    pieces = [p for p in service.snapshot.passages if p.doc_id == "long"]
    assert pieces and all(0 < len(p.text) <= MAX_PASSAGE_CHARS for p in pieces)
    assert "".join(p.text for p in pieces).replace(" ", "") == paragraph.replace(" ", "")  # nothing lost
    assert {p.paragraph for p in pieces} == {1} and len({p.id for p in pieces}) == len(pieces)
    for question in ("embassy Tehran sanctions compensation", "a" * 300):
        answer = service.ask(question)
        embed = render.answer_embed(answer)
        check_message(embed, render.answer_view(answer))
        check_answer(answer, embed)
    assert took < 10
    report(f"1 MB paragraph ({shape})", passages=len(pieces), longest=max(len(p.text) for p in pieces),
           load_s=round(took, 2))


# --- through the stand-in --------------------------------------------------------------------------------------------

NASTY = ["@everyone what happened?", "<@123456789012345678> embassy", "**embassy** __Tehran__ ||spoiler||",
         "`code` ```block``` > quote", "# heading embassy", "[link](https://evil.test) embassy", "\u202eembassy",
         "embassy " * 37, "\U0001f600" * 150, "Tehran\nembassy\n\nfamilies", "<@&1> <#2> <t:1:R> @here",
         "a" * 300, "1. embassy", "PS752 Jan. 8, 2020"]


@pytest.mark.asyncio
@pytest.mark.e2e
async def test_hostile_questions_and_stories_through_discord(corpus_dir):
    """The same inputs through the real client and the stand-in, which rejects any message over Discord's
    limits (400) and records who a message would ping: all accepted, nobody pinged."""
    paragraphs = [" ".join(HOSTILE), "On Jan. 8, 2020, the **embassy** <@1> @everyone closed. " * 30,
                  *(f"On March {d}, 2021, witness {d} said: `{'|' * d}` [x](y) @here." for d in range(1, 25))]
    (corpus_dir / "hostile.md").write_text(
        story_file("@everyone <@1> **[title]** (x) `y` " + "T" * 300, paragraphs,
                   url="https://example.test/a_(b)[c]<d>" + "p" * 600, publisher="<@&42> " + "P" * 300), "utf-8")
    with captured_logs() as logs:
        async with FakeDiscord() as fd:
            await start_bot(fd, corpus_dir)
            alice = fd.add_member("alice")
            sent = []
            for q in NASTY:
                sent.append(await fd.slash("ask", {"question": q[:300]}, user=alice))
                sent.append(await fd.mention(alice, q))
            for contains in (None, "witness", "`", "@everyone", "\n"):
                sent.append(await fd.slash("timeline", {} if contains is None else {"contains": contains}, user=alice))
            sent.append(await fd.slash("sources", {}, user=alice))
            for s in sent:
                if not isinstance(s, InteractionRecord):
                    await s.wait_reply()
                else:
                    final = await s.wait_final()
                    assert final.embeds and not final.content, final
            pages = [s for s in sent if isinstance(s, InteractionRecord) and s.payload["data"]["name"] == "timeline"
                     and s.message.get("components")]
            assert len(pages) >= 2
            for r in pages:  # page through every multi-page timeline: the buttons work whatever the filter
                button = r.message["components"][0]["components"][1]
                turned = await (await fd.click(r.message, button["custom_id"], user=alice)).wait_final()
                assert turned.type == 7 and "Page 2 of" in turned.embeds[0]["footer"]["text"]
            rejected = [q for q in fd.requests if q.status and q.status >= 400]
            assert not rejected and not fd.unexpected, rejected
            assert not any(p["users"] or p["roles"] or p["everyone"] for p in fd.pings.values())
            await fd.stop_bot()
    assert not logs.errors(), describe(logs.errors())
    report("hostile through the stand-in", messages=len(sent), timeline_pages_turned=len(pages), rejected=0,
           pinged=0)
