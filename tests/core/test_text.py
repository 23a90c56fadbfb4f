from bot.core.passages import passages, split_text
from bot.core.corpus import parse_story_text
from bot.core.text import sentence_spans, tokenize, tokens


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
