"""Write tagged documents as JSONL, CSV, the corpus training format, or a standalone HTML page."""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Sequence
from typing import TextIO

from .corpus import Document, Sentence, format_document
from .labels import ALL_LABELS, EVENT_LABELS, LABEL_INFO, O
from .tagging import TaggedSentence, document_events

FORMATS = ("jsonl", "csv", "corpus", "html")
CSV_COLUMNS = ["document", "index", "start", "end", "text", "labels", *(f"score_{x}" for x in ALL_LABELS)]


def write_jsonl(docs: Sequence[Sequence[TaggedSentence]], out: TextIO) -> None:
    for tagged in docs:
        for s in tagged:
            out.write(json.dumps(s.to_record(), ensure_ascii=False) + "\n")


def write_csv(docs: Sequence[Sequence[TaggedSentence]], out: TextIO) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for tagged in docs:
        for s in tagged:
            writer.writerow(
                [
                    s.document,
                    s.index,
                    s.start,
                    s.end,
                    s.text,
                    ";".join(s.labels),
                    *(f"{s.scores[x]:.4f}" for x in ALL_LABELS),
                ]
            )


def to_corpus_document(tagged: Sequence[TaggedSentence], doc_id: str) -> Document:
    return Document(doc_id, [Sentence(" ".join(s.text.split()), s.labels) for s in tagged if s.text.strip()])


def write_corpus_text(docs: Sequence[Sequence[TaggedSentence]], out: TextIO) -> None:
    """The training format; several documents are separated by a blank line (read them one per file)."""
    for i, tagged in enumerate(docs):
        if i:
            out.write("\n")
        out.write(format_document(to_corpus_document(tagged, tagged[0].document if tagged else "doc")))


_PAGE_CSS = """
body{font:16px/1.55 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{font-size:1.4rem}h2{font-size:1.15rem;margin-top:2.5rem;border-bottom:1px solid #ddd}
.legend span,.chips span{display:inline-block;padding:.1rem .5rem;margin:.1rem;border-radius:.8rem;font-size:.8rem}
.s{padding:.1rem .15rem;border-radius:.2rem}.s[data-events=""]{background:none}
p.doc{text-align:justify}.muted{color:#777;font-size:.85rem}
"""


def _sentence_style(s: TaggedSentence) -> str:
    colours = [LABEL_INFO[x].colour for x in s.events]
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


def render_html(docs: Sequence[Sequence[TaggedSentence]], *, title: str = "threatevents report") -> str:
    """One standalone page: sentences highlighted by event type, scores on hover, a summary per document."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{html.escape(title)}</title><style>{_PAGE_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><div class='legend'>{''.join(_chip(x) for x in EVENT_LABELS)}</div>",
    ]
    for tagged in docs:
        name = tagged[0].document if tagged else "(empty)"
        counts = document_events(tagged)
        chips = "".join(_chip(k, f"{k} × {v}") for k, v in counts.items()) or _chip(O, "no events found")
        parts.append(
            f"<h2>{html.escape(name)}</h2><div class='chips'>{chips}</div>"
            f"<p class='muted'>{len(tagged)} sentences, {sum(1 for s in tagged if s.events)} with events</p>"
            "<p class='doc'>"
        )
        for s in tagged:
            hover = "; ".join(f"{k} {v:.2f}" for k, v in sorted(s.scores.items(), key=lambda kv: -kv[1]))
            parts.append(
                f"<span class='s' data-events='{html.escape(' '.join(s.events))}' "
                f"style='{_sentence_style(s)}' title='{html.escape(hover)}'>{html.escape(s.text)}</span> "
            )
        parts.append("</p>")
    parts.append("</body></html>\n")
    return "".join(parts)


def export(docs: Sequence[Sequence[TaggedSentence]], fmt: str, out: TextIO) -> None:
    """Write tagged documents to ``out`` in one of :data:`FORMATS`."""
    if fmt == "jsonl":
        write_jsonl(docs, out)
    elif fmt == "csv":
        write_csv(docs, out)
    elif fmt == "corpus":
        write_corpus_text(docs, out)
    elif fmt == "html":
        out.write(render_html(docs))
    else:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")


def export_string(docs: Sequence[Sequence[TaggedSentence]], fmt: str) -> str:
    buffer = io.StringIO()
    export(docs, fmt, buffer)
    return buffer.getvalue()
