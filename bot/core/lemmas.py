"""English words as lemminflect knows them: the irregular forms whose root is their lemma's ("shot" ->
"shoot"), for the tokenizer, and whether a word is in the dictionary at all, for reading questions.

The irregular table is shipped (``irregular.tsv``, 1,254 words): working it out from lemminflect's tables
takes about 0.9 s, which every process that tokenizes (a build worker, a start-up after an edit) would pay
first. ``python -m bot.core.lemmas`` writes it again; ``tests/core/test_text.py`` fails when the installed
lemminflect would give another table.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import Stemmer

IRREGULAR_FILE = Path(__file__).with_name("irregular.tsv")


@lru_cache(maxsize=1)
def irregular() -> dict[str, str]:
    """word -> root, for the words whose root is their lemma's stem, not their own."""
    with IRREGULAR_FILE.open(encoding="utf-8") as f:
        return dict(line.rstrip("\n").split("\t") for line in f)


def irregular_from_lemminflect() -> dict[str, str]:
    """The table ``irregular`` reads, from lemminflect's own tables.

    The rule is lemminflect's ``getAllLemmas``, verbs first: a word that stems like one of its own lemmas
    ("killed", "lives", "remains") is regular and keeps its stem; one that does not takes its first lemma's.
    Only ASCII words of three letters or more are looked up (a casefolded word is lower case, so lemminflect
    applies no capitals). ``getAllLemmas`` costs 2.5-5 µs a call (deep copies of its entries); its tables are
    read here directly instead, and ``tests/core/test_text.py`` checks the result against ``getAllLemmas`` for
    every word lemminflect knows.
    """
    from lemminflect.core.Lemmatizer import Lemmatizer

    stemmer = Stemmer.Stemmer("english")
    lemmatizer = Lemmatizer()  # the singleton getAllLemmas uses
    lookup, overrides = lemmatizer._getLemmaDict(), lemmatizer._getOverridesDict()
    entries = [(word, {**by_pos, **overrides[word]} if word in overrides else by_pos)
               for word, by_pos in lookup.items()]  # getAllLemmas: an override replaces that part of speech
    entries += [(word, overrides[word]) for word in overrides.keys() - lookup.keys()]
    words, lemmas = [], []
    for word, by_pos in entries:
        forms = by_pos.get("VERB") or by_pos.get("NOUN")
        if forms and forms != (word,) and word.isalpha() and word.isascii() and len(word) > 2 and word.islower():
            words.append(word)
            lemmas.append([form.lower() for form in forms])
    own = stemmer.stemWords(words)
    theirs = iter(stemmer.stemWords([form for forms in lemmas for form in forms]))
    table = {}
    for word, stem, forms in zip(words, own, lemmas):
        stems = [next(theirs) for _ in forms]
        if stem not in stems:
            table[word] = stems[0]
    return dict(sorted(table.items()))


@lru_cache(maxsize=1)
def _dictionary() -> frozenset[str]:
    """Every word lemminflect's dictionary has, in lower case (what ``getAllLemmas`` looks up)."""
    from lemminflect.core.Lemmatizer import Lemmatizer

    lemmatizer = Lemmatizer()
    return frozenset(lemmatizer._getLemmaDict()) | frozenset(lemmatizer._getOverridesDict())


def in_dictionary(word: str) -> bool:
    """``bool(getAllLemmas(word))``, by a set lookup instead of deep copies of lemminflect's entries."""
    return word.lower() in _dictionary()


@lru_cache(maxsize=65536)
def english(word: str) -> bool:
    """A word of English's dictionary (lemminflect's), in any form, or once its trailing s's are dropped."""
    return in_dictionary(word) or in_dictionary(word.rstrip("s"))


if __name__ == "__main__":
    table = irregular_from_lemminflect()
    IRREGULAR_FILE.write_text("".join(f"{word}\t{root}\n" for word, root in table.items()), encoding="utf-8")
    print(f"wrote {len(table)} words to {IRREGULAR_FILE}")
