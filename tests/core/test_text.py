import random
import re
import sys

from hypothesis import given
from hypothesis import strategies as st

from bot.core.passages import passages, split_text
from bot.core.corpus import parse_story_text
from bot.core import parts, text
from bot.core.lemmas import english, in_dictionary, irregular, irregular_from_lemminflect
from bot.core.text import sentence_spans, tokenize, tokens
from tests.conftest import CORPUS


def test_tokenizer_folds_case_quotes_possessives_stems_and_stop_words():
    assert tokenize("Why did Canada’s EMBASSY close?") == ["canada", "embassi", "close"]
    assert tokenize("the embassies were closed") == ["embassi", "close"]
    assert tokenize("“Flight PS752”") == ["flight", "ps752", "752"]
    assert tokenize("Flight 752 killed 55 Canadians") == ["flight", "752", "kill", "55", "canadian"]
    assert tokenize("a the of and is") == []
    assert tokenize("🙂 ??? …") == []


def test_token_spans_point_into_the_original_text():
    text = "Mr. Champagne’s spokesman – Adam Austen"
    for tok in tokens(text):
        assert text[tok.start:tok.end].lower().startswith(tok.term[:3])


def test_sentences_do_not_break_after_abbreviations():
    text = "Mr. Zarif met Mr. Champagne on Feb. 14 in Munich. Then he left. “Quote.” He said."
    got = [text[s:e] for s, e in sentence_spans(text)]
    assert got == ["Mr. Zarif met Mr. Champagne on Feb. 14 in Munich.", "Then he left.", "“Quote.”", "He said."]


def test_long_paragraphs_are_split_verbatim_at_sentence_ends():
    sentence = "This sentence is about forty characters. "
    para = (sentence * 60).strip()
    pieces = split_text(para, 900)
    assert all(len(p) <= 900 for p in pieces) and len(pieces) > 1
    assert all(p.endswith(".") for p in pieces)
    assert " ".join(pieces) == para


def test_a_paragraph_without_spaces_is_still_cut_within_the_cap():
    pieces = split_text("x" * 5000, 900)
    assert "".join(pieces) == "x" * 5000 and max(map(len, pieces)) == 900


def test_passage_ids_and_numbers():
    doc = parse_story_text("---\ntitle: t\npublished: 2020\n---\nOne.\n\n" + "Long sentence here. " * 100, "s")
    ps = passages(doc)
    assert ps[0].id == "s#1" and ps[0].paragraph == 1 and ps[0].text == "One."
    assert ps[1].id == "s#2.1" and ps[1].paragraph == 2 and ps[-1].id.startswith("s#2.")


# The terms of words that are easy to get wrong: irregular forms meet their lemma ("shot" -> "shoot"), regular
# ones keep their own stem ("lives", "remains", "killed"), codes and possessives, curly quotes, Unicode forms.
# Pinned as the tokenizer gave them before the lemma table (text.py's _irregular), which must change none.
TRICKY = {
    "shot": ["shoot"], "shooting": ["shoot"], "met": ["meet"], "meeting": ["meet"], "children": ["child"],
    "lives": ["live"], "life": ["life"], "remains": ["remain"], "killed": ["kill"], "flew": ["fli"],
    "flown": ["fli"], "fled": ["flee"], "men": ["man"], "women": ["woman"], "geese": ["goos"], "mice": ["mous"],
    "went": ["go"], "gone": ["go"], "saw": ["saw"], "seen": ["see"], "better": ["better"], "criteria": ["criterion"],
    "news": ["news"], "brought": ["bring"], "caught": ["catch"], "taught": ["teach"], "sank": ["sink"],
    "ran": ["run"], "left": ["leav"], "leaves": ["leav"], "felt": ["feel"], "fell": ["fell"], "fallen": ["fall"],
    "bled": ["bleed"], "evening": ["even"], "wound": ["wound"], "found": ["found"], "ties": ["tie"],
    "Shot": ["shoot"], "MET": ["meet"], "Children’s": ["child"], "ſhot": ["shoot"], "ｍｅｔ": ["meet"],
    "was": [], "told": [], "said": [], "it’s": [], "don’t": [], "U.S.": [], "x": [], "_": [],
    "PS752": ["ps752", "752"], "covid19": ["covid19", "19"], "1990s": ["1990s", "1990"], "3rd": ["3rd", "3"],
    "Canada’s": ["canada"], "Zarif's": ["zarif"], "O’Brien": ["obrien"], "rock’n’roll": ["rocknrol"],
    "“Quoted”": ["quot"], "‘single’": ["singl"], "mid-2018": ["mid", "2018"], "Tehran-based": ["tehran", "base"],
    "foo_bar": ["foo_bar"], "ab": ["ab"], "fiancée": ["fiancé"], "naïve": ["naïv"], "ﬁnancial": ["financi"],
}


def test_tricky_words_keep_their_terms():
    got = {word: tokenize(word) for word in TRICKY}
    assert got == TRICKY
    assert [t.term for t in tokens("Flight PS752 was shot down; the children’s lives")] == [
        "flight", "ps752", "752", "shoot", "down", "child", "live"]


def _root_by_get_all_lemmas(word: str) -> str:
    """``text._root`` as it was before its table: lemminflect's ``getAllLemmas`` asked word by word."""
    from lemminflect import getAllLemmas

    stem = text._stemmer.stemWord(word)
    if word.isalpha() and word.isascii() and len(word) > 2:
        lemmas = getAllLemmas(word)
        for pos in ("VERB", "NOUN"):
            forms = lemmas.get(pos)
            if forms:
                stems = [text._stemmer.stemWord(f) for f in forms]
                return stem if stem in stems else stems[0]
    return stem


def test_the_irregular_table_agrees_with_get_all_lemmas_for_every_word_lemminflect_knows():
    from lemminflect.core.Lemmatizer import Lemmatizer

    lemmatizer = Lemmatizer()
    known = {**lemmatizer._getLemmaDict(), **lemmatizer._getOverridesDict()}
    forms = {form for by_pos in lemmatizer._getLemmaDict().values() for fs in by_pos.values() for form in fs}
    words = sorted({w.casefold() for w in known.keys() | forms})
    assert len(words) > 60_000
    wrong = [(w, text._root(w), _root_by_get_all_lemmas(w)) for w in words
             if text._root(w) != _root_by_get_all_lemmas(w)]
    assert not wrong, wrong[:10]
    assert irregular()["shot"] == "shoot" and "killed" not in irregular()


def test_the_shipped_irregular_table_is_the_one_the_installed_lemminflect_gives():
    assert irregular() == irregular_from_lemminflect(), "run `python -m bot.core.lemmas` to write it again"


def test_the_dictionary_lookup_says_what_get_all_lemmas_says():
    from lemminflect import getAllLemmas

    words = ["shot", "Shot", "SHOT", "place", "plane", "Zarif", "Tehran", "buses", "BUS", "lives", "xqzt", "the",
             "Children", "children's", "news", "S", "ss", "", "naïve", "Ottawa", "drone", "drones"]
    assert [in_dictionary(w) for w in words] == [bool(getAllLemmas(w)) for w in words]
    assert [english(w) for w in words] == [bool(getAllLemmas(w)) or bool(getAllLemmas(w.rstrip("s")))
                                           for w in words]


def test_the_word_memo_stays_bounded_and_changes_no_term(monkeypatch):
    sentence = "Flight PS752 was shot down; the children’s lives"
    expected = tokenize(sentence)
    monkeypatch.setattr(text._Memo, "MAX_WORDS", 3)
    text._TERMS.clear()
    made_up = " ".join(f"zork{i}x" for i in range(50))
    assert tokenize(made_up) == [t for i in range(50) for t in (f"zork{i}x", str(i))]
    assert len(text._TERMS) <= 3
    assert tokenize(sentence) == expected and text.stem("Shot") == "shoot"
    assert len(text._TERMS) <= 3
    text._TERMS.clear()


# --- the index's tokenizer (TermIds) ---------------------------------------------------------------------------

# Characters the tokenizer treats specially, to mix into generated text: every folded one (curly quotes, dashes,
# no-break spaces), every kind of whitespace, apostrophes, underscores, digits, letters that NFKC changes
# ("ﬁ", full-width), a combining accent, accented and non-Latin letters, punctuation.
_TRICKY_CHARS = sorted(set("\u2018\u2019\u201b\u2032`\u201c\u201d\u201f\u2033\u2010\u2011\u2012\u2013\u2014\u2015"
                           "\u00a0\u202f\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\u1680\u2000\u2009\u2028\u2029\u205f\u3000"
                           "'_-.,;:!?()\"/0123456789aAsSzZﬁｍｅ\u0301éßİ\u0130日本ſ\u00bd\u2075"))


def _ids_by_tokenize(texts: list[str]) -> tuple[list[list[int]], dict[str, int]]:
    vocabulary: dict[str, int] = {}
    return [[vocabulary.setdefault(t, len(vocabulary)) for t in tokenize(x)] for x in texts], vocabulary


def _ids_by_term_ids(texts: list[str]) -> tuple[list[list[int]], dict[str, int]]:
    vocabulary: dict[str, int] = {}
    ids = parts.TermIds(vocabulary)
    return [list(ids(x)) for x in texts], vocabulary


def test_no_whitespace_is_part_of_a_word_so_term_ids_may_cut_text_at_whitespace():
    word = re.compile(r"[\w']")
    spaces = [chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    assert len(spaces) > 20 and not [s for s in spaces if word.match(s) or word.match(s.translate(text._FOLD))]
    assert not [c for c in text._FOLD if chr(c).isalpha()]  # a piece of letters only is folded by nothing


def test_term_ids_are_the_ids_of_tokenize_in_order_of_first_use():
    from bench.synth import Generator

    texts = [p for story in Generator(seed=3).stories(2000) for p in story.paragraphs]
    texts += [" ".join(TRICKY), "\u2003".join(TRICKY), "Canada’s EMBASSY\u2014closed; “Flight PS752”…"]
    texts += [p for path in sorted(CORPUS.glob("*.md")) for p in path.read_text(encoding="utf-8").split("\n\n")]
    assert _ids_by_term_ids(texts) == _ids_by_tokenize(texts)
    ids, vocabulary = _ids_by_term_ids(texts)
    assert list(vocabulary) == list(dict.fromkeys(t for x in texts for t in tokenize(x)))


@given(st.lists(st.text(alphabet=st.sampled_from(_TRICKY_CHARS), max_size=40), max_size=8))
def test_term_ids_agree_with_tokenize_on_any_text(texts):
    assert _ids_by_term_ids(texts) == _ids_by_tokenize(texts)


def test_the_piece_memo_stays_bounded_and_changes_no_id(monkeypatch):
    texts = [" ".join(f"zork{i}x piece{i % 7}, ‘q{i}’" for i in range(j, j + 30)) for j in range(0, 300, 30)]
    expected = _ids_by_tokenize(texts)
    monkeypatch.setattr(parts.TermIds, "MAX_PIECES", 5)
    vocabulary: dict[str, int] = {}
    ids = parts.TermIds(vocabulary)
    got = []
    for x in texts:
        got.append(list(ids(x)))
        assert len(ids) <= 5
    assert (got, vocabulary) == expected


def _plain_sentence_spans(sample: str) -> list[tuple[int, int]]:
    """``sentence_spans`` as it was first written: every span stripped of white space, character by character."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in re.finditer(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s+[\"'\u201c\u2018(\[]?[A-Z0-9])", sample):
        before = sample[start : m.start()].rsplit(None, 1)
        last_word = before[-1].lower().strip("\"'(\u201c\u2018") if before else ""
        if m.group().startswith(".") and len(m.group()) == 1 and (
            last_word in text._ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha())
        ):
            continue
        spans.append((start, m.end()))
        start = m.end()
    spans.append((start, len(sample)))
    out = []
    for s, e in spans:
        while s < e and sample[s].isspace():
            s += 1
        while e > s and sample[e - 1].isspace():
            e -= 1
        if s < e:
            out.append((s, e))
    return out


def test_sentences_are_cut_as_the_plain_way_cuts_them():
    rng = random.Random(4)
    pieces = ["Mr.", "Jan.", "U.S.", "x.", "word", "Word", "7", "...", "?!", ".\"", ".’", ".)", "“", "(", "’",
              " ", "  ", "\n", "\u2003", "\xa0", "\t"]
    for _ in range(5000):
        made = "".join(rng.choice(pieces) + rng.choice(("", " ")) for _ in range(rng.randint(0, 30)))
        assert sentence_spans(made) == _plain_sentence_spans(made), repr(made)
