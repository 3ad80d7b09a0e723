"""Shared fixtures: the real data folder (skip when absent) and a tiny corpus written for tests."""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Self

import numpy as np
import pytest

from threatevents.corpus import Corpus, Document, Sentence
from threatevents.labels import EVENT_LABELS
from threatevents.models.base import DocLike, EventModel, ModelConfig, flatten_texts


@pytest.fixture(autouse=True)
def _restore_log_levels():
    """A test that changes a logger's level (the CLI sets ``threatevents``'s) must not change what the
    next test sees: restore every logger's level, the root's included, after each test."""
    loggers = [
        logging.getLogger(),
        *(v for v in logging.Logger.manager.loggerDict.values() if isinstance(v, logging.Logger)),
    ]
    levels = [(logger, logger.level, logger.disabled) for logger in loggers]
    yield
    for logger, level, disabled in levels:
        logger.setLevel(level)
        logger.disabled = disabled


os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
CASIE_SENTENCES = SHARED_DATA / "casie-sentences"
CASIE_EVENTS = SHARED_DATA / "casie-events"


@pytest.fixture(scope="session")
def casie_dir() -> Path:
    """The real labelled corpus; tests that need it skip with a reason when ../shared is absent."""
    if not (CASIE_SENTENCES / "splits.json").is_file():
        pytest.skip(f"needs the CASIE sentence corpus at {CASIE_SENTENCES} (../shared/data is absent)")
    return CASIE_SENTENCES


KEYWORDS = {
    "AttackDatabreach": ("stole", "breach", "leaked"),
    "AttackPhishing": ("phish",),
    "AttackRansom": ("ransom",),
    "DiscoverVulnerability": ("vulnerability", "flaw"),
    "PatchVulnerability": ("patch", "update"),
}


class KeywordModel(EventModel):
    """A deterministic model without training: 0.9 for a label when one of its keywords occurs in the
    (lower-cased) sentence, else 0.1. ``calls`` counts the ``predict_proba`` calls."""

    kind = "keyword-test"
    config_class = ModelConfig

    def __init__(self, config: ModelConfig | None = None) -> None:
        super().__init__(config)
        self.calls = 0

    def fit(self, train: Sequence[Document], dev: Sequence[Document] | None = None) -> Self:
        return self

    def predict_proba(self, docs: Sequence[DocLike]) -> np.ndarray:
        self.calls += 1
        texts = [t.lower() for t in flatten_texts(docs)]
        rows = [[0.9 if any(k in t for k in KEYWORDS[name]) else 0.1 for name in EVENT_LABELS] for t in texts]
        return np.array(rows, dtype=float).reshape(len(texts), len(EVENT_LABELS))

    def _save_weights(self, path: Path) -> None:
        raise NotImplementedError

    def _load_weights(self, path: Path) -> None:
        raise NotImplementedError


# Sentences written for the tests (not taken from the corpus), a few per event type.
_TEMPLATES: dict[tuple[str, ...], list[str]] = {
    ("AttackDatabreach",): [
        "Hackers stole the personal records of {n} customers from the {org} database.",
        "The {org} breach exposed names, addresses and card numbers of {n} users.",
        "Attackers exfiltrated {n} patient files after breaking into {org} servers.",
    ],
    ("AttackPhishing",): [
        "Employees at {org} received phishing emails that imitated a payroll notice.",
        "The phishing campaign used a fake {org} login page to harvest passwords.",
        "Scammers sent spoofed invoices from {org} to trick staff into wiring money.",
    ],
    ("AttackRansom",): [
        "Ransomware encrypted {n} computers at {org} and demanded bitcoin.",
        "The {org} network was locked by ransomware and the gang asked for a ransom.",
        "Criminals encrypted the {org} backups and threatened to leak them unless paid.",
    ],
    ("DiscoverVulnerability",): [
        "Researchers discovered a remote code execution flaw in the {org} router firmware.",
        "A critical vulnerability in {org} software lets attackers bypass authentication.",
        "Security experts found a buffer overflow bug affecting {n} {org} devices.",
    ],
    ("PatchVulnerability",): [
        "{org} released a security update that fixes the flaw in its browser.",
        "The patch from {org} addresses {n} vulnerabilities in the mail server.",
        "Users should install the {org} update, which patches the critical bug.",
    ],
    ("DiscoverVulnerability", "PatchVulnerability"): [
        "{org} patched the newly discovered vulnerability in its VPN appliance.",
    ],
    ("O",): [
        "The company said it would hold a press conference on {n} May.",
        "{org} shares closed slightly higher on Tuesday.",
        "The report was published by the {org} research team.",
        "Officials declined to comment further on the matter.",
    ],
}
_ORGS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay", "Stark", "Wayne"]


#: Prepended by :func:`run_without_training_libraries`: any import of torch, transformers or scikit-learn (training
#: and scoring libraries) fails, as in an install that only tags.
BLOCK_TRAINING = textwrap.dedent("""
    import sys
    class BlockTraining:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {"torch", "transformers", "sklearn"}:
                raise ImportError(f"{name} is blocked in this test")
    sys.meta_path.insert(0, BlockTraining())
""")


def run_without_training_libraries(script: str) -> str:
    """Run ``script`` (dedented) in a fresh Python where torch, transformers and scikit-learn cannot be imported;
    assert it succeeded and return the last line it printed."""
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_TRAINING + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    return lines[-1] if lines else ""


BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def benchmark_script(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` imported as a module, as it runs: with ``benchmarks/`` on ``sys.path`` (the scripts
    import ``_common`` and ``_recipe``) and registered in ``sys.modules`` (dataclasses look their module up)."""
    if str(BENCHMARKS) not in sys.path:
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def make_documents(n_docs: int, seed: int = 0, prefix: str = "doc") -> list[Document]:
    """Deterministic synthetic documents: a headline then a few event and filler sentences."""
    import random

    rng = random.Random(seed)
    label_sets = list(_TEMPLATES)
    docs = []
    for d in range(n_docs):
        main = label_sets[d % (len(label_sets) - 1)]
        sentences = []
        for i in range(rng.randint(4, 7)):
            labels = main if i < 2 or rng.random() < 0.3 else rng.choice(label_sets)
            template = rng.choice(_TEMPLATES[labels])
            text = template.format(n=rng.randint(2, 90000), org=rng.choice(_ORGS))
            sentences.append(Sentence(text, labels))
        docs.append(Document(f"{prefix}{d:03d}", sentences))
    return docs


@pytest.fixture(scope="session")
def tiny_corpus() -> Corpus:
    train, dev, test = make_documents(40, 1, "tr"), make_documents(12, 2, "dv"), make_documents(12, 3, "te")
    docs = {d.id: d for d in [*train, *dev, *test]}
    splits = {"train": [d.id for d in train], "dev": [d.id for d in dev], "test": [d.id for d in test]}
    return Corpus(docs, splits)


@pytest.fixture(scope="session")
def tiny_corpus_dir(tiny_corpus: Corpus, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from threatevents.corpus import write_corpus

    path = tmp_path_factory.mktemp("corpus")
    write_corpus(tiny_corpus, path)
    return path


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny randomly initialised BERT + WordPiece tokenizer saved as a local Hugging Face folder.

    One layer, hidden size 32, a vocabulary learnt from the synthetic sentences: no downloaded weights.
    """
    pytest.importorskip("torch", reason="the transformer kind needs the [train] extra (torch) to fit")
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import BertConfig, BertModel

    path = tmp_path_factory.mktemp("tiny-bert")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    texts = [t for doc in make_documents(30, seed=5) for t in doc.texts]
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(vocab_size=300, special_tokens=specials))
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    tokenizer.save(str(path / "tokenizer.json"))
    config = BertConfig(
        vocab_size=tokenizer.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(path)
    return path


def _ray_status() -> str:
    """Whether the Ray engine's tests run (CI installs the ray extra; elsewhere they skip)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"ray: installed {version('ray')}, the ray engine tests run (marker: ray)"
    except PackageNotFoundError:
        return "ray: not installed, the ray engine tests skip (pip install '.[ray]' to run them)"


def pytest_report_header(config: pytest.Config) -> str:
    return _ray_status()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Repeat the Ray line in the summary: ``pytest -q`` (what ``make test`` and CI run) prints no header."""
    terminalreporter.write_line(_ray_status())
