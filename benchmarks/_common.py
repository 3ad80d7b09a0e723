"""What the benchmark scripts (and ``scripts/ship_transformer.py``) share: where the project's data is.

The labelled corpus lives outside the repository, in ``../shared/data`` relative to its root (see the
README); scripts find it from their own location, so they run from any working directory.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
CASIE_SENTENCES = SHARED_DATA / "casie-sentences"
CASIE_EVENTS = SHARED_DATA / "casie-events"
TEXTEE_SPLITS = SHARED_DATA / "textee-casie-splits"
