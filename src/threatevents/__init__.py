"""threatevents: find cyber events in threat reports, sentence by sentence."""

from __future__ import annotations

__version__ = "0.1.0"
