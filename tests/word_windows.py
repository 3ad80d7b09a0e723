"""Helpers of the trigger and argument tests: a phrase's span in a text, and a window of one token per word."""

from __future__ import annotations

import numpy as np

from threatevents.models.event_extractor import CURRENT, SPECIAL, Window
from threatevents.models.trigger_lexicon import words


def span_of(text: str, piece: str) -> tuple[int, int]:
    """Character span of the first ``piece`` in ``text``."""
    start = text.index(piece)
    return start, start + len(piece)


def word_window(text: str) -> Window:
    """``text`` as the current sentence of a window: one token per word, between [CLS] and [SEP]."""
    spans = words(text)
    part = np.array([SPECIAL, *[CURRENT] * len(spans), SPECIAL], dtype=np.int8)
    start = np.array([0, *(a for a, _ in spans), 0])
    end = np.array([0, *(b for _, b in spans), 0])
    return Window(list(range(len(part))), [0] * len(part), part, start, end)
