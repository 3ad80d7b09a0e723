"""An analyst's new event with the model's suggested arguments (``suggest_arguments``): the model reads the
trigger's sentence and the two around it in document offsets, its arguments are stored as proposals, an
argument the analyst gave is not doubled, and a model without an event extractor suggests none."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from conftest import KeywordModel
from threatevents.events import Argument, Event
from threatevents.models.base import DocLike
from threatevents.service.app import create_app
from threatevents.service.core import ValidationError, Workbench
from threatevents.service.db import open_database
from threatevents.service.errors import ModelNotReady, NotFound
from threatevents.service.settings import Settings

from .conftest import ARTICLE


class SuggestingModel(KeywordModel):
    """The keyword model with an argument finder: every "Acme" in the sentences it reads is a Victim (score 0.7).
    ``asked`` records each call's sentences, triggers and starts; ``during`` runs inside each call."""

    has_event_extractor = True  # type: ignore[misc]  # a ClassVar of the base: this kind has one

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[tuple[list[list[str]], list[list[Event]], list[list[int]]]] = []
        self.during: Callable[[], object] = lambda: None

    def predict_arguments(
        self,
        docs: Sequence[DocLike],
        triggers: Sequence[Sequence[Event]],
        starts: Sequence[Sequence[int]] | None = None,
    ) -> list[list[Event]]:
        assert starts is not None
        self.during()
        self.asked.append(([list(d) for d in docs], [list(t) for t in triggers], [list(s) for s in starts]))
        out = []
        for doc, events, at in zip(docs, triggers, starts, strict=True):
            found = []
            for event in events:
                arguments = [
                    Argument("Victim", a + t.index("Acme"), a + t.index("Acme") + 4, "Acme", score=0.7)
                    for t, a in zip(doc, at, strict=True)
                    if "Acme" in t
                ]
                found.append(replace(event, realis="Generic", arguments=arguments, score=1.0))
            out.append(found)
        return out


@pytest.fixture
def suggesting(settings: Settings) -> Iterator[tuple[Workbench, SuggestingModel]]:
    engine, sessions = open_database(settings.db_url)
    model = SuggestingModel()
    yield Workbench(model, sessions, settings), model
    engine.dispose()


def add_patch(wb: Workbench, doc: Any, **changes: Any) -> Any:
    """Add the analyst's PatchVulnerability event on the article's "patch" (reviewer "a" unless ``changes`` say)."""
    patch = doc.text.index("patch")
    values = {"type": "PatchVulnerability", "realis": "Actual", "trigger": (patch, patch + 5), "reviewer": "a"}
    return wb.add_event(doc.id, **(values | changes))


def test_the_model_suggests_arguments_from_the_trigger_sentence_and_its_neighbours(
    suggesting: tuple[Workbench, SuggestingModel],
) -> None:
    wb, model = suggesting
    doc = wb.add_document(text=ARTICLE)
    patch = doc.text.index("patch")
    made = add_patch(wb, doc, reviewer="ann", suggest_arguments=True)
    ((texts,), ((asked,),), (starts,)) = model.asked[0]
    sentences = [(s.text, s.start) for s in doc.sentences]
    assert list(zip(texts, starts, strict=True)) == sentences[1:4]  # its sentence (2) and the two around it
    assert (asked.type, asked.trigger.start, asked.trigger.text) == ("PatchVulnerability", patch, "patch")
    assert (made.type, made.realis, made.origin, made.state, made.reviewer) == (
        "PatchVulnerability",
        "Actual",  # the analyst's realis, not the model's
        "analyst",
        "accepted",
        "ann",
    )
    acme = doc.text.index("Acme released")
    assert [(a.role, a.start, a.text, a.origin, a.state, a.score, a.reviewer) for a in made.arguments] == [
        ("Victim", acme, "Acme", "model", "proposed", 0.7, None)
    ]
    assert wb.get_document(doc.id).events[-1] == made  # stored

    first = doc.text.index("stole")  # the first sentence has no sentence before it
    wb.add_event(doc.id, type="AttackDatabreach", realis="Actual", trigger=(first, first + 5), reviewer="ann",
                 suggest_arguments=True)  # fmt: skip
    assert model.asked[1][2] == [[s.start for s in doc.sentences[:2]]]


def test_an_argument_the_analyst_gave_is_not_suggested_again(suggesting: tuple[Workbench, SuggestingModel]) -> None:
    wb, _ = suggesting
    doc = wb.add_document(text=ARTICLE)
    acme = doc.text.index("Acme released")
    made = add_patch(wb, doc, reviewer="ann", arguments=[("Victim", acme, acme + 4)], suggest_arguments=True)
    assert [(a.role, a.text, a.origin) for a in made.arguments] == [("Victim", "Acme", "analyst")]


def test_no_suggestion_unless_asked_nor_from_a_model_without_an_extractor(
    suggesting: tuple[Workbench, SuggestingModel], workbench: Workbench
) -> None:
    wb, model = suggesting
    doc = wb.add_document(text=ARTICLE)
    made = add_patch(wb, doc)
    assert made.arguments == [] and model.asked == []
    plain = workbench.add_document(text=ARTICLE)  # the keyword model: EventModel.predict_arguments finds nothing
    made = add_patch(workbench, plain, suggest_arguments=True)
    assert made.arguments == [] and made.origin == "analyst"


def test_a_bad_trigger_is_refused_before_the_model_runs(suggesting: tuple[Workbench, SuggestingModel]) -> None:
    wb, model = suggesting
    doc = wb.add_document(text=ARTICLE)
    crossing = doc.sentences[1].start - 3
    with pytest.raises(ValidationError, match="not inside one sentence"):
        wb.add_event(doc.id, type="AttackPhishing", realis="Actual", trigger=(crossing, crossing + 6), reviewer="a",
                     suggest_arguments=True)  # fmt: skip
    with pytest.raises(ValidationError, match="trigger"):
        wb.add_event(doc.id, type="AttackPhishing", realis="Actual", trigger=(0, 10**6), reviewer="a",
                     suggest_arguments=True)  # fmt: skip
    assert model.asked == []
    assert wb.get_document(doc.id).events == []


@pytest.fixture
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, model=SuggestingModel()), base_url="http://127.0.0.1") as client:
        yield client


def test_api_stores_the_suggested_arguments_and_refuses_a_non_boolean(api: TestClient) -> None:
    doc: dict[str, Any] = api.post("/v1/documents", json={"text": ARTICLE}).json()
    patch = doc["text"].index("patch")
    body = {"type": "PatchVulnerability", "trigger": {"start": patch, "end": patch + 5}, "suggest_arguments": True}
    made = api.post(f"/v1/documents/{doc['id']}/events", json=body)
    assert made.status_code == 201, made.text
    assert [(a["role"], a["text"], a["origin"], a["state"]) for a in made.json()["arguments"]] == [
        ("Victim", "Acme", "model", "proposed")
    ]
    for bad in ("yes", 1, None):
        refused = api.post(f"/v1/documents/{doc['id']}/events", json=body | {"suggest_arguments": bad})
        assert refused.status_code == 422 and "suggest_arguments" in refused.text


def test_suggesting_while_the_model_loads_is_refused_and_stores_nothing(
    suggesting: tuple[Workbench, SuggestingModel],
) -> None:
    wb, model = suggesting
    doc = wb.add_document(text=ARTICLE)
    wb.model = None  # as while the server loads it
    with pytest.raises(ModelNotReady):
        add_patch(wb, doc, suggest_arguments=True)
    assert wb.get_document(doc.id).events == []
    made = add_patch(wb, doc)
    assert made.arguments == []  # without suggestions the model is not needed
    wb.model = model


def test_a_model_without_an_extractor_is_not_run_and_a_bad_argument_is_refused_first(
    suggesting: tuple[Workbench, SuggestingModel],
) -> None:
    wb, model = suggesting
    doc = wb.add_document(text=ARTICLE)
    with pytest.raises(ValidationError, match=r"arguments\[0\]"):
        add_patch(wb, doc, arguments=[("Victim", 0, 10**6)], suggest_arguments=True)
    assert model.asked == []
    model.has_event_extractor = False  # type: ignore[misc]
    assert not wb.suggests_arguments
    made = add_patch(wb, doc, suggest_arguments=True)
    assert made.arguments == [] and model.asked == []


def test_a_document_replaced_while_the_model_runs_gets_no_event(suggesting: tuple[Workbench, SuggestingModel]) -> None:
    wb, model = suggesting
    doc = wb.add_document(text=ARTICLE)
    other = ARTICLE.replace("Acme", "Initech")

    def replace_document() -> None:  # SQLite gives the newest row's id again after it is deleted
        wb.delete_document(doc.id)
        wb.add_document(text=other)

    model.during = replace_document
    with pytest.raises(NotFound, match=f"document {doc.id}"):
        add_patch(wb, doc, suggest_arguments=True)
    assert all(d.events == [] for d in (wb.get_document(i.id) for i in wb.list_documents().items))
