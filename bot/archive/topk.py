"""Top-k selection: the k best scores of an array, highest first, equal scores in position order."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Hit:
    index: int
    """Position of the passage in the sequence the index was built from."""
    score: float


def kth_largest(values: np.ndarray, k: int) -> float:
    """The k-th largest of ``values`` (0.0 when there are fewer than k)."""
    if len(values) < k:
        return 0.0
    return float(np.partition(values, len(values) - k)[len(values) - k])


def top(positions: np.ndarray, scores: np.ndarray, k: int) -> list[Hit]:
    """The ``k`` best (position, score) pairs: highest score first, equal scores by position."""
    if len(scores) > k:
        if len(scores) > 64 * k:  # narrow down first; keep every tie of the k-th score
            kth = scores[np.argpartition(-scores, k - 1)[k - 1]]
            keep = scores >= kth
            positions, scores = positions[keep], scores[keep]
        order = np.lexsort((positions, -scores))[:k]
        positions, scores = positions[order], scores[order]
    else:
        order = np.lexsort((positions, -scores))
        positions, scores = positions[order], scores[order]
    return [Hit(int(p), float(s)) for p, s in zip(positions.tolist(), scores.tolist())]
