"""Show an evaluation result: a terminal table, a JSON file, or a report folder with PNG plots.

Public API (the CLI's ``threatevents evaluate`` calls these)::

    render_table(result, title=None) -> rich.table.Table   # print with rich.console.Console().print(...)
    write_json(result, path) -> Path                        # result.to_dict() as indented JSON
    write_report(result, out_dir, title=None) -> Path       # the folder below; returns its README.md
    render_event_table(scores, title=None) -> rich.table.Table  # structured event scores (``result.events``)

``write_report(result, out_dir, title=None)`` creates::

    README.md           the tables (sentence level, event labels only, document level) and the plots
    metrics.json        ``result.to_dict()``
    f1_by_label.png     per-label F1, sentence and document level, with the micro/macro averages
    cooccurrence.png    true label x predicted label counts, normalised by the true label's support
    pr_curves.png       per-label precision-recall curves (only when the result has probabilities)
    f1_by_role.png      argument F1 per role (only when the result has event scores, ``result.events``)

Plots are drawn on :class:`matplotlib.figure.Figure` objects saved straight to PNG, which uses the
Agg renderer without pyplot, so no global matplotlib state (backend, rcParams) is touched. matplotlib
is imported only when a plot is drawn, so the terminal table and the JSON file do not load it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.markup import escape
from rich.table import Table
from sklearn.metrics import average_precision_score, precision_recall_curve

from .evaluate import EvaluationResult
from .event_metrics import EventScores
from .labels import ALL_LABELS, EVENT_LABELS, LABEL_INFO, O, o_score
from .metrics import Scores

if TYPE_CHECKING:
    from matplotlib.figure import Figure

F1_PLOT, COOCCURRENCE_PLOT, PR_PLOT = "f1_by_label.png", "cooccurrence.png", "pr_curves.png"
ROLE_PLOT = "f1_by_role.png"
_DPI = 130
_O_LINE_COLOUR = "#6e6e6e"  # the schema's light grey for O is too faint for lines and text


def write_json(result: EvaluationResult, path: str | Path) -> Path:
    """Write ``result.to_dict()`` as indented JSON (parent folders are created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return path


def _row(name: str, s: Scores, style: str | None = None) -> list[str]:
    cells = [name, f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}", str(s.support)]
    return [f"[{style}]{c}[/]" for c in cells] if style else cells


def render_table(result: EvaluationResult, title: str | None = None) -> Table:
    """A terminal table: per-label rows, the averages, then the document-level scores.

    ``title`` names what was evaluated (default: the result's model and split).
    """
    where = title or " on ".join(x for x in (result.model, result.split) if x)
    counts = f"({result.n_sentences} sentences, {result.n_documents} documents)"
    heading = f"Evaluation: {where} {counts}" if where else f"Evaluation {counts}"
    table = Table(
        title=escape(heading),
        caption=f"exact match (whole label set right): {result.exact_match:.3f}",
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("Sentences", no_wrap=True)
    for name in ("Precision", "Recall", "F1", "Support"):
        table.add_column(name, justify="right")
    for i, (name, s) in enumerate(result.per_label.items()):
        table.add_row(*_row(name, s), end_section=i == len(result.per_label) - 1)
    for name, s in result.averages.items():
        table.add_row(*_row(f"{name} avg", s, "bold"))
    for i, (name, s) in enumerate(result.event_averages.items()):
        table.add_row(*_row(f"events {name} avg", s), end_section=i == len(result.event_averages) - 1)
    table.add_row("[italic]Documents[/]", "", "", "", "")
    for name, s in result.doc_per_label.items():
        table.add_row(*_row(f"  {name}", s))
    for name in ("micro", "macro"):
        table.add_row(*_row(f"  {name} avg", result.doc_averages[name], "bold"))
    return table


def render_event_table(scores: EventScores, title: str | None = None) -> Table:
    """A terminal table of the structured event scores: one row per metric, then per event type."""
    caption = f"realis accuracy over the {scores.realis_matched} triggers found: {scores.realis_accuracy:.3f}"
    if scores.note:
        caption += f"\nnote: {scores.note}"
    if scores.missing_gold or scores.unplaced_predictions:
        caption += (
            f"\n{scores.missing_gold} documents without annotation (not scored); "
            f"{scores.unplaced_predictions} predicted events not placed in their article"
        )
    table = Table(
        title=escape(title or f"Event extraction ({scores.documents} documents)"),
        caption=escape(caption),
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("Events", no_wrap=True)
    for name in ("Prec.", "Recall", "F1", "Gold", "Pred", "Match"):
        table.add_column(name, justify="right")
    rows = scores.rows()
    for i, (name, p, r, f1, gold, pred, match) in enumerate(rows):
        cells = [name, f"{p:.3f}", f"{r:.3f}", f"{f1:.3f}", str(gold), str(pred), str(match)]
        table.add_row(*cells, end_section=i == len(rows) - 1)
    for metric in ("trigger_cls", "argument_attached_cls"):
        table.add_row(f"[italic]{metric} by type[/]", *[""] * 6)
        for kind, by_metric in scores.per_event_type.items():
            s = by_metric[metric]
            cells = [f"  {kind}", f"{s.precision:.3f}", f"{s.recall:.3f}", f"{s.f1:.3f}"]
            table.add_row(*cells, str(s.gold), str(s.pred), str(s.match))
    return table


def plot_f1_by_role(scores: EventScores, path: Path, where: str = "") -> Path:
    """Horizontal bars of ``argument_attached_cls`` F1 per role, with each role's gold count."""
    roles = list(scores.per_role)
    fig = _figure(figsize=(9, 0.3 * len(roles) + 1.6), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(roles))[::-1]
    values = [scores.per_role[r].f1 for r in roles]
    bars = ax.barh(y, values, 0.7, color="#2e86ab", edgecolor="#333333", linewidth=0.6)
    labels = [f"{v:.2f} (gold {scores.per_role[r].gold})" for r, v in zip(roles, values, strict=True)]
    ax.bar_label(bars, labels=labels, padding=3, fontsize=8)
    ax.set_yticks(y, roles, fontsize=9)
    ax.set_xlim(0, 1.25)
    ax.set_xlabel("F1 (argument span + role + trigger span + event type)", fontsize=10)
    ax.grid(axis="x", alpha=0.25)
    title = "Argument F1 per role"
    if scores.note:
        title += f" ({scores.note})"
    fig.suptitle(title + (f"\n{where}" if where else ""), fontsize=12, fontweight="bold")
    fig.savefig(path, dpi=_DPI)
    return path


def _event_markdown(scores: EventScores, plot: str | None) -> list[str]:
    lines = ["## Event extraction", ""]
    if scores.note:
        lines += [f"**Note:** {scores.note}.", ""]
    lines += [
        f"TextEE's end-to-end scores over exact character spans in the article, {scores.documents} documents "
        "(see `docs/events.md` for the tuples compared and the deduplication rule).",
        "",
        "| Metric | Precision | Recall | F1 | Gold | Pred | Match |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {name} | {p:.3f} | {r:.3f} | {f1:.3f} | {gold} | {pred} | {match} |"
        for name, p, r, f1, gold, pred, match in scores.rows()
    ]
    lines += [
        "",
        f"Realis accuracy over the {scores.realis_matched} triggers found: **{scores.realis_accuracy:.3f}**. "
        f"Documents without annotation (not scored): {scores.missing_gold}; predicted events that could not be "
        f"placed in their article: {scores.unplaced_predictions}.",
        "",
    ]
    if plot:
        lines += [f"![Argument F1 per role]({plot})", ""]
    return lines


def _figure(**kwargs: Any) -> Figure:
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def _colour(name: str) -> str:
    return _O_LINE_COLOUR if name == O else LABEL_INFO[name].colour


def _where(result: EvaluationResult) -> str:
    return " · ".join(x for x in (result.model, result.split and f"{result.split} split") if x)


def _suptitle(fig: Figure, title: str, result: EvaluationResult) -> None:
    where = _where(result)
    fig.suptitle(title + (f"\n{where}" if where else ""), fontsize=13, fontweight="bold")


def plot_f1_by_label(result: EvaluationResult, path: Path) -> Path:
    """Horizontal bars of sentence- and document-level F1 per label, average F1 as dashed lines."""
    fig = _figure(figsize=(9, 5.2), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(ALL_LABELS))[::-1]
    height = 0.38
    for offset, scores, hatch, alpha, kind in (
        (height / 2, result.per_label, None, 1.0, "sentences"),
        (-height / 2, result.doc_per_label, "///", 0.45, "documents"),
    ):
        values = [scores[name].f1 for name in ALL_LABELS]
        bars = ax.barh(
            y + offset,
            values,
            height,
            color=[_colour(n) for n in ALL_LABELS],
            alpha=alpha,
            hatch=hatch,
            edgecolor="#333333",
            linewidth=0.6,
            label=f"F1 over {kind}",
        )
        texts = [
            f"{v:.2f}" if scores[n].support else f"{v:.2f} (no {kind} with this label)"
            for n, v in zip(ALL_LABELS, values, strict=True)
        ]
        for text in ax.bar_label(bars, labels=texts, padding=3, fontsize=9):
            text.set_bbox({"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.85})
    for average, style in (("micro", "--"), ("macro", ":")):
        f1 = result.averages[average].f1
        label = f"sentence {average} F1 = {f1:.3f}"
        ax.axvline(f1, color="#222222", linestyle=style, linewidth=1.2, zorder=0.5, label=label)
    ticks = [f"{n}\n{result.per_label[n].support} sent. / {result.doc_per_label[n].support} docs" for n in ALL_LABELS]
    ax.set_yticks(y, ticks, fontsize=10)
    ax.set_xlim(0, 1.1)
    ax.set_xlabel("F1", fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=2, fontsize=9, frameon=False)
    _suptitle(fig, "F1 per label (under each label: how many sentences / documents have it)", result)
    fig.savefig(path, dpi=_DPI)
    return path


def plot_cooccurrence(result: EvaluationResult, path: Path) -> Path:
    """Heatmap of true vs predicted label co-occurrence, each row divided by the true label's support."""
    share, counts = result.cooccurrence(normalise=True), result.cooccurrence(normalise=False)
    fig = _figure(figsize=(8.6, 7), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(ALL_LABELS)):
        for j in range(len(ALL_LABELS)):
            colour = "white" if share[i, j] > 0.55 else "#222222"
            weight = "bold" if i == j else "normal"
            ax.text(
                j,
                i,
                f"{share[i, j]:.2f}\n({counts[i, j]})",
                ha="center",
                va="center",
                fontsize=9,
                color=colour,
                fontweight=weight,
            )
    supports = [result.per_label[name].support for name in ALL_LABELS]
    ax.set_xticks(range(len(ALL_LABELS)), ALL_LABELS, rotation=30, ha="right", fontsize=10)
    ax.set_yticks(
        range(len(ALL_LABELS)), [f"{n} (n={s})" for n, s in zip(ALL_LABELS, supports, strict=True)], fontsize=10
    )
    ax.set_xlabel("Predicted label", fontsize=11)
    ax.set_ylabel("True label", fontsize=11)
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the true label's sentences")
    _suptitle(
        fig, "Where each label's sentences were predicted\n(diagonal = recall; a sentence may have several)", result
    )
    fig.savefig(path, dpi=_DPI)
    return path


def plot_pr_curves(result: EvaluationResult, path: Path) -> Path:
    """Precision-recall curve per label from the event probabilities (``O`` scored as 1 - max event)."""
    if result.probs is None:
        raise ValueError("precision-recall curves need the model's probabilities")
    y_true, _ = result.matrices()
    scores = np.column_stack([result.probs, o_score(result.probs)])
    fig = _figure(figsize=(8.6, 7), layout="constrained")
    ax = fig.add_subplot()
    grid = np.linspace(0.01, 1, 200)
    for level in (0.2, 0.4, 0.6, 0.8):
        precision = level * grid / (2 * grid - level)
        keep = (precision > 0) & (precision <= 1.05)
        ax.plot(grid[keep], precision[keep], color="#bbbbbb", linewidth=0.8, linestyle="--", zorder=1)
        ax.annotate(f"F1={level}", (0.98, level / (2 - level) + 0.015), fontsize=8, color="#888888", ha="right")
    for j, name in enumerate(ALL_LABELS):
        truth, chosen = y_true[:, j], result.per_label[name]
        if truth.sum() == 0:
            ax.plot([], [], color=_colour(name), label=f"{name}: no true sentences")
            continue
        precision, recall, _ = precision_recall_curve(truth, scores[:, j])
        ap = average_precision_score(truth, scores[:, j])
        ax.plot(
            recall,
            precision,
            drawstyle="steps-post",
            color=_colour(name),
            linewidth=2,
            zorder=2,
            label=f"{name}: AP {ap:.2f}, F1 {chosen.f1:.2f}",
        )
        ax.plot(
            chosen.recall, chosen.precision, "o", color=_colour(name), markersize=8, markeredgecolor="black", zorder=3
        )
    ax.plot([], [], "o", color="white", markeredgecolor="black", label="decision thresholds in use")
    ax.set_xlim(0, 1.01)
    ax.set_ylim(0, 1.03)
    ax.set_xlabel("Recall", fontsize=11)
    ax.set_ylabel("Precision", fontsize=11)
    ax.grid(alpha=0.25)
    ax.legend(loc="lower left", fontsize=9, framealpha=0.95)
    _suptitle(fig, "Precision-recall per label (AP = average precision)", result)
    fig.savefig(path, dpi=_DPI)
    return path


def _markdown_table(rows: Iterable[tuple[str, Scores]], first: str) -> list[str]:
    lines = [f"| {first} | Precision | Recall | F1 | Support |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {name} | {s.precision:.3f} | {s.recall:.3f} | {s.f1:.3f} | {s.support} |" for name, s in rows]
    return [*lines, ""]


def render_markdown(result: EvaluationResult, title: str, plots: dict[str, str | None]) -> str:
    """The README of a report folder. ``plots`` maps each PNG name to its file, or ``None`` when not drawn."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    facts = [
        f"**Model:** {result.model or 'not named'}",
        f"**Split:** {result.split or 'not named'}",
        f"**Sentences:** {result.n_sentences}",
        f"**Documents:** {result.n_documents}",
        f"**Written:** {stamp}",
    ]
    lines = [f"# {title}", "", " · ".join(facts), "", "## Sentence level", ""]
    lines += _markdown_table(
        [*result.per_label.items(), *((f"**{k} avg**", s) for k, s in result.averages.items())], "Label"
    )
    lines += [
        f"Exact match (the whole label set of a sentence right): **{result.exact_match:.3f}**",
        "",
        "### Event labels only (O left out)",
        "",
    ]
    lines += _markdown_table(((f"{k} avg", s) for k, s in result.event_averages.items()), "Average")
    lines += [
        "## Document level",
        "",
        "An article's labels are the union of its sentences' event labels, or O when it has none. "
        "The macro average is over the labels at least one article truly has.",
        "",
    ]
    lines += _markdown_table(
        [*result.doc_per_label.items(), *((f"**{k} avg**", s) for k, s in result.doc_averages.items())], "Label"
    )
    if result.events is not None:
        lines += _event_markdown(result.events, plots.get(ROLE_PLOT))
    lines += ["## Plots", ""]
    captions = {
        F1_PLOT: "F1 per label",
        COOCCURRENCE_PLOT: "True vs predicted label co-occurrence",
        PR_PLOT: "Precision-recall curves",
    }
    for name, caption in captions.items():
        lines += [f"### {caption}", ""]
        file = plots.get(name)
        lines += [f"![{caption}]({file})" if file else "_Not drawn: the result has no model probabilities._", ""]
    lines += [
        "## How the numbers are computed",
        "",
        f"Each sentence is scored over six binary columns ({', '.join(ALL_LABELS)}); O is set exactly when no "
        "event label is, for gold and predicted labels alike. Precision, recall and F1 come from scikit-learn's "
        "`precision_recall_fscore_support` with `zero_division=0`, so a label that is never predicted (or never "
        "occurs) scores 0, not an error. The averages' support is the total number of true labels. "
        f"The event-only averages use the {len(EVENT_LABELS)} event columns. Document scores use the same six "
        "columns over articles; their macro average skips labels that no article truly has "
        "(articles with no event are rare, and a gold-empty O column at F1 0 would cut macro-F1 by a sixth). "
        "`metrics.json` holds every number here.",
        "",
    ]
    return "\n".join(lines)


def write_report(result: EvaluationResult, out_dir: str | Path, title: str | None = None) -> Path:
    """Write the report folder (see the module docstring); returns the path of its ``README.md``.

    Raises ``ValueError`` for a result without its matrices (one read back from JSON).
    """
    result.matrices()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_json(result, out / "metrics.json")
    plots: dict[str, str | None] = {
        F1_PLOT: plot_f1_by_label(result, out / F1_PLOT).name,
        COOCCURRENCE_PLOT: plot_cooccurrence(result, out / COOCCURRENCE_PLOT).name,
        PR_PLOT: plot_pr_curves(result, out / PR_PLOT).name if result.probs is not None else None,
    }
    if result.probs is None:
        (out / PR_PLOT).unlink(missing_ok=True)  # a stale curve from an earlier run would be misleading
    if result.events is not None:
        plots[ROLE_PLOT] = plot_f1_by_role(result.events, out / ROLE_PLOT, _where(result)).name
    else:
        (out / ROLE_PLOT).unlink(missing_ok=True)
    readme = out / "README.md"
    readme.write_text(render_markdown(result, title or "Evaluation report", plots), encoding="utf-8")
    return readme
