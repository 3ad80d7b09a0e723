"""One standalone HTML page of tagged documents: sentences highlighted by event type, scores on hover, the
document's paragraphs kept (left-aligned text), a summary and the indicators found in each document."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from itertools import groupby
from typing import TYPE_CHECKING, TextIO

from ..labels import EVENT_LABELS, LABEL_INFO, O

if TYPE_CHECKING:
    from ..tagging import TaggedSentence

_PAGE_CSS = """
body{font:16px/1.6 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2.5rem;border-bottom:1px solid #ddd}
.legend span,.chips span{display:inline-block;padding:.1rem .5rem;margin:.1rem;border-radius:.8rem;font-size:.8rem}
.s{padding:.1rem .15rem;border-radius:.2rem}
article p{text-align:left;margin:0 0 1em}.muted{color:#777;font-size:.85rem}
.iocs{font-size:.85rem}.iocs code{word-break:break-all}
"""


def _sentence_style(s: TaggedSentence) -> str:
    colours = [LABEL_INFO[x].colour for x in s.event_labels]
    if not colours:
        return ""
    if len(colours) == 1:
        return f"background:{colours[0]}40;border-bottom:3px solid {colours[0]}"
    stops = ",".join(f"{c}40" for c in colours)
    return f"background:linear-gradient(90deg,{stops});border-bottom:3px solid {colours[0]}"


def _chip(label: str, text: str | None = None) -> str:
    colour = LABEL_INFO[label].colour
    return (
        f'<span style="background:{colour};color:#fff" title="{html.escape(LABEL_INFO[label].description)}">'
        f"{html.escape(text or label)}</span>"
    )


def _sentence(s: TaggedSentence) -> str:
    hover = "; ".join(f"{k} {v:.2f}" for k, v in sorted(s.scores.items(), key=lambda kv: -kv[1]))
    return (
        f"<span class='s' data-index='{s.index}' data-events='{html.escape(' '.join(s.event_labels))}' "
        f"style='{_sentence_style(s)}' title='{html.escape(hover)}'>{html.escape(s.text)}</span>"
    )


def _indicators(tagged: Sequence[TaggedSentence]) -> str:
    items = [
        f"<li>{html.escape(i.type)} <code>{html.escape(i.value)}</code> "
        f"<span class='muted'>sentence {i.sentence}, characters {i.start}–{i.end}</span></li>"
        for s in tagged
        for i in s.indicators
    ]
    if not items:
        return ""
    return f"<details class='iocs'><summary>Indicators ({len(items)})</summary><ul>{''.join(items)}</ul></details>"


def render_html(docs: Sequence[Sequence[TaggedSentence]], *, title: str = "threatevents report") -> str:
    """The page as a string: one ``<article>`` per document, one ``<p>`` per paragraph of its text."""
    from ..tagging import document_events

    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{html.escape(title)}</title><style>{_PAGE_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><div class='legend'>{''.join(_chip(x) for x in EVENT_LABELS)}</div>",
    ]
    for tagged in docs:
        name = tagged[0].document if tagged else "(empty)"
        counts = document_events(tagged)
        chips = "".join(_chip(k, f"{k} × {v}") for k, v in counts.items()) or _chip(O, "no events found")
        parts.append(
            f"<article><h2>{html.escape(name)}</h2><div class='chips'>{chips}</div>"
            f"<p class='muted'>{len(tagged)} sentences, {sum(1 for s in tagged if s.event_labels)} with events</p>"
            f"{_indicators(tagged)}<div class='doc'>"
        )
        for _, paragraph in groupby(tagged, key=lambda s: s.paragraph):
            parts.append("<p>" + " ".join(_sentence(s) for s in paragraph) + "</p>")
        parts.append("</div></article>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_html(
    docs: Sequence[Sequence[TaggedSentence]], out: TextIO, *, created: datetime | None = None, continued: bool = False
) -> None:
    out.write(render_html(docs))
