"""The audit's paraphrase check (labelkit/quality/paraphrase.py): flag-only, off by default.

A small static embedding model folder is made here (model.safetensors + tokenizer.json, as a model2vec
folder holds them) in which each word and its synonym share a vector, so a reworded copy is a real
paraphrase to the model while sharing few characters; no optional package is needed."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from labelkit.settings.config import from_dict
from labelkit.errors import ConfigError

PAIRS = {"refund": "repay", "the": "a", "double": "duplicate", "charge": "fee", "on": "upon", "my": "our",
         "invoice": "bill", "please": "kindly"}
FILLER = ["router", "blinking", "signal", "cancel", "contract", "moving", "wifi", "slow", "tonight", "password",
          "login", "reset", "email", "address", "change", "plan", "upgrade", "speed", "outage", "street"]


def _model_folder(folder):
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from tokenizers.normalizers import Lowercase
    from tokenizers.pre_tokenizers import Whitespace

    words = sorted(set(PAIRS) | set(PAIRS.values()) | set(FILLER))
    vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate(words)}}
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(vocab), 24)).astype(np.float32)
    for word, synonym in PAIRS.items():
        vectors[vocab[synonym]] = vectors[vocab[word]]
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = Lowercase()
    tokenizer.pre_tokenizer = Whitespace()
    folder.mkdir()
    tokenizer.save(str(folder / "tokenizer.json"))
    save_file({"embeddings": vectors}, str(folder / "model.safetensors"))
    return folder


def _splits():
    rng = np.random.default_rng(1)
    original = "refund the double charge on my invoice please"
    reworded = " ".join(PAIRS[w] for w in original.split())
    filler = [" ".join(rng.choice(FILLER, size=7, replace=False)) for _ in range(40)]
    train = pd.DataFrame({"id": [f"tr{i}" for i in range(43)], "label": "a",
                          "text": filler + [reworded, "the invoice please", original + " now"]})
    test = pd.DataFrame({"id": ["te0", "te1", "te2"], "label": ["a", "b", "a"],
                         "text": [original, "a bill kindly", " ".join(rng.choice(FILLER, size=7, replace=False))]})
    return {"train": train, "test": test}


def _spec(**kwargs):
    from labelkit.quality import AuditSpec

    return AuditSpec(id_column="id", text_column="text", label_column="label", classes=("a", "b"),
                     checks=("exact_duplicate_cross_split", "near_duplicate_cross_split", "paraphrase_cross_split"),
                     **kwargs)


def test_a_reworded_copy_across_splits_is_flagged_never_dropped(tmp_path):
    from labelkit.quality import apply_policies, run_audit

    folder = _model_folder(tmp_path / "static")
    splits = _splits()
    result = run_audit(splits, _spec(paraphrase_model=str(folder), paraphrase_threshold=0.9))
    found = result.findings[result.findings["reason"] == "paraphrase_cross_split"]
    assert set(zip(found["split"], found["row_id"])) == {("test", "te0"), ("train", "tr40")}
    evidence = found.set_index("row_id")["evidence"]
    assert "train row 'tr40'" in evidence["te0"] and "cosine 1.000" in evidence["te0"] and "Jaccard" in evidence["te0"]
    # the character copy ("... now") is the near-duplicate join's, not flagged twice; short texts are left out
    near = result.findings[result.findings["reason"] == "near_duplicate_cross_split"]
    assert "tr42" in set(near["row_id"]) and "tr42" not in set(found["row_id"])
    assert "te1" not in set(found["row_id"])
    cleaned = apply_policies(splits, result.findings, {})
    assert "te0" in set(cleaned.splits["test"]["id"]) and "tr40" in set(cleaned.splits["train"]["id"])


def test_off_by_default_and_lsa_needs_no_package():
    from labelkit.quality import run_audit

    splits = _splits()
    findings = run_audit(splits, _spec()).findings
    assert not (findings["reason"] == "paraphrase_cross_split").any()
    lsa = run_audit(splits, _spec(paraphrase_model="lsa", paraphrase_threshold=0.5)).findings
    assert set(lsa["reason"]) <= {"near_duplicate_cross_split", "exact_duplicate_cross_split", "paraphrase_cross_split"}


def test_config_keys():
    assert from_dict({}).audit.paraphrase_model == ""
    assert from_dict({"audit": {"paraphrase_model": "lsa", "paraphrase_threshold": 0.85}}).audit.paraphrase_threshold == 0.85
    with pytest.raises(ConfigError, match=r"\[audit -> paraphrase_model\] is 'wordlama'; allowed: .*\"\" \(off\)"):
        from_dict({"audit": {"paraphrase_model": "wordlama"}})
    with pytest.raises(ConfigError, match=r"\[audit -> paraphrase_threshold\] is 0.0; allowed: a number in \(0, 1\]"):
        from_dict({"audit": {"paraphrase_threshold": 0.0}})


def test_best_pairs_is_exact_in_chunks(monkeypatch):
    from labelkit.quality import paraphrase

    rng = np.random.default_rng(3)
    A = rng.normal(size=(50, 8)).astype(np.float32)
    A /= np.linalg.norm(A, axis=1, keepdims=True)
    B = np.vstack([A[:5] * 1.0, rng.normal(size=(120, 8)).astype(np.float32)])
    B /= np.linalg.norm(B, axis=1, keepdims=True)
    monkeypatch.setattr(paraphrase, "CHUNK", 7)
    pairs = paraphrase.best_pairs(A, B, 0.999)
    assert [(u, v) for u, v, _ in pairs] == [(i, i) for i in range(5)]
