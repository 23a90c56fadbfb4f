"""The archive: the engineering that makes a large corpus fast, kept apart from the story logic.

It stores and searches arrays and texts (the passage table, the BM25 index, spelling correction, top-k
selection, the on-disk snapshot cache) and holds the process-wide runtime policy a serving process applies
(``runtime.py``). It imports nothing from ``bot/core/``: the core turns what it gives back into stories.
A newcomer reading the story flow can skip it.
"""
