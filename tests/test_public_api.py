"""The names ``import threatevents`` promises: every one resolves, and the README's first lines run."""

from __future__ import annotations

import pytest

import threatevents


@pytest.mark.parametrize("name", threatevents.__all__)
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(threatevents, name) is not None


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'tag_everything'"):
        _ = threatevents.tag_everything  # type: ignore[attr-defined]


def test_tagging_through_the_package_names() -> None:
    model = threatevents.load_model("linear")
    text = "Ransomware encrypted the city's servers. The mayor spoke on Tuesday."
    records = threatevents.tag_text(model, text)
    assert records == model.tag(text)
    assert [r["text"] for r in records] == ["Ransomware encrypted the city's servers.", "The mayor spoke on Tuesday."]
    assert threatevents.tag_texts(model, [text])[0] == model.tag_many([text])[0]
