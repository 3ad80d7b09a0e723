"""Property-based API test: schemathesis generates requests, valid and invalid, from the app's own OpenAPI
spec; none may get a server error and every answer must match the spec.

Driven through hypothesis directly (schemathesis' pytest plugin does not support pytest 9 yet); each
operation gets a bounded number of examples per mode so the whole run takes seconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="needs schemathesis (dev extra)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import Case, GenerationMode  # noqa: E402
from schemathesis.checks import positive_data_acceptance  # noqa: E402

from threatevents.service.app import create_app  # noqa: E402
from threatevents.service.settings import Settings  # noqa: E402

from .conftest import ARTICLE, KeywordModel, extract_test_events  # noqa: E402

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "25"))


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda m: m.value)
def test_api_follows_its_spec(tmp_path: Path, mode: GenerationMode) -> None:
    app = create_app(Settings(db_url=f"sqlite:///{tmp_path / 'te.sqlite3'}", page=False), model=KeywordModel())
    extract_test_events(app.state.workbench)  # stored documents hold events (ids 1-6) and arguments
    for i in range(3):  # stored documents, so that small ids exist and some requests reach real data
        doc = app.state.workbench.add_document(text=ARTICLE, name=f"doc{i}")
        app.state.workbench.review_sentence(doc.id, 0, accept=True, reviewer="ann")
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers={"host": "127.0.0.1"})
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 18  # every route of the API and the health probes

    for operation in operations:
        if mode is GenerationMode.NEGATIVE and not (list(operation.iter_parameters()) or operation.body):
            continue  # no input to make invalid (the health probes, the reviewed-corpus export)

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Case) -> None:
            # A schema-valid text may still hold no sentence (only control characters): 422 is right there.
            case.call_and_validate(base_url="http://127.0.0.1", excluded_checks=[positive_data_acceptance])

        check()
