"""One standalone HTML page of tagged documents: sentences highlighted by event type, scores on hover, the
document's paragraphs kept (left-aligned text), a summary and the indicators found in each document, and the
structured events: triggers and arguments marked in the text with their roles, and a list of the events."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import datetime
from itertools import groupby
from typing import TYPE_CHECKING, TextIO

from ..labels import EVENT_LABELS, LABEL_INFO, O
from .eventfmt import sentence_events

if TYPE_CHECKING:
    from ..tagging import TaggedSentence

_PAGE_CSS = """
body{font:16px/1.6 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2.5rem;border-bottom:1px solid #ddd}
.legend span,.chips span{display:inline-block;padding:.1rem .5rem;margin:.1rem;border-radius:.8rem;font-size:.8rem}
.s{padding:.1rem .15rem;border-radius:.2rem}
article p{text-align:left;margin:0 0 1em}.muted{color:#777;font-size:.85rem}
.iocs{font-size:.85rem}.iocs code{word-break:break-all}
mark{background:none;color:inherit;padding:0 .1rem;border-radius:.2rem}
mark.trg{font-weight:600;border:2px solid currentColor}mark.arg{background:#ffe58a;border-bottom:1px dotted #555}
mark sub{font-size:.65rem;font-weight:600;color:#444;margin-left:.15rem;text-transform:none}
.events{font-size:.9rem}.events li{margin:.2rem 0}
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


#: A marked span: document start, end, the opening tag and the role shown after the text (both escaped).
_Mark = tuple[int, int, str, str]


def _marks(tagged: Sequence[TaggedSentence]) -> list[_Mark]:
    """The trigger and argument spans of a document's events, as ``<mark>`` tags with their role or type."""
    marks: list[_Mark] = []
    for _, event in sentence_events(tagged):
        colour = LABEL_INFO[event.type].colour if event.type in LABEL_INFO else "#555"
        title = html.escape(f"{event.type} trigger, realis {event.realis}", quote=True)
        marks.append(
            (event.trigger.start, event.trigger.end, f"<mark class='trg' style='color:{colour}' title='{title}'>", "")
        )
        for argument in event.arguments:
            role = html.escape(argument.role, quote=True)
            tip = html.escape(f"{argument.role} of {event.type} '{event.trigger.text}'", quote=True)
            marks.append((argument.start, argument.end, f"<mark class='arg' data-role='{role}' title='{tip}'>", role))
    return marks


def _marked_text(s: TaggedSentence, marks: Sequence[_Mark]) -> str:
    """The sentence's text, escaped, with the marks inside it; where marks overlap the first (outermost) wins."""
    inside = sorted(
        (mark for mark in marks if s.start <= mark[0] < mark[1] <= s.start + len(s.text)),
        key=lambda m: (m[0], -m[1]),
    )
    out, at = [], 0
    for a, b, tag, role in inside:
        start, end = a - s.start, b - s.start
        if start < at:
            continue
        out.append(html.escape(s.text[at:start]))
        out.append(f"{tag}{html.escape(s.text[start:end])}{f'<sub>{role}</sub>' if role else ''}</mark>")
        at = end
    out.append(html.escape(s.text[at:]))
    return "".join(out)


def _sentence(s: TaggedSentence, marks: Sequence[_Mark] = ()) -> str:
    hover = "; ".join(f"{k} {v:.2f}" for k, v in sorted(s.scores.items(), key=lambda kv: -kv[1]))
    return (
        f"<span class='s' data-index='{s.index}' data-events='{html.escape(' '.join(s.event_labels))}' "
        f"style='{_sentence_style(s)}' title='{html.escape(hover)}'>{_marked_text(s, marks)}</span>"
    )


def _event_list(tagged: Sequence[TaggedSentence]) -> str:
    """The document's events: type, realis, trigger, and each argument with its role."""
    items = []
    for s, event in sentence_events(tagged):
        arguments = "; ".join(f"{html.escape(a.role)}: {html.escape(a.text)}" for a in event.arguments)
        score = f" <span class='muted'>{event.score:.2f}</span>" if event.score is not None else ""
        items.append(
            f"<li>{_chip(event.type) if event.type in LABEL_INFO else html.escape(event.type)} "
            f"{html.escape(event.realis)} <b>{html.escape(event.trigger.text)}</b>{score} "
            f"<span class='muted'>sentence {s.index}</span>{' — ' + arguments if arguments else ''}</li>"
        )
    if not items:
        return ""
    summary = f"<summary>Events in this report ({len(items)})</summary>"
    return f"<details class='events' open>{summary}<ul>{''.join(items)}</ul></details>"


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
            f"{_event_list(tagged)}{_indicators(tagged)}<div class='doc'>"
        )
        marks = _marks(tagged)
        for _, paragraph in groupby(tagged, key=lambda s: s.paragraph):
            parts.append("<p>" + " ".join(_sentence(s, marks) for s in paragraph) + "</p>")
        parts.append("</div></article>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_html(
    docs: Sequence[Sequence[TaggedSentence]], out: TextIO, *, created: datetime | None = None, continued: bool = False
) -> None:
    out.write(render_html(docs))
