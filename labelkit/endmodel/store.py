"""The model file: skops (a zip of JSON + .npy arrays, no pickle), byte-identical for identical models.

``load_end_model(path)`` only builds objects of the types in TRUSTED_TYPES (scikit-learn, numpy and
scipy classes an end model is made of); a file naming any other type is refused before anything in it
is loaded.
"""
from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

from labelkit.errors import LabelkitError

FORMAT = "labelkit.end_model"
VERSION = 1
TRUSTED_TYPES = (
    "sklearn.pipeline.Pipeline", "sklearn.pipeline.FeatureUnion", "sklearn.compose._column_transformer.ColumnTransformer",
    "sklearn.feature_extraction.text.TfidfVectorizer", "sklearn.feature_extraction.text.CountVectorizer",
    "sklearn.feature_extraction.text.HashingVectorizer", "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.preprocessing._data.StandardScaler", "sklearn.preprocessing._encoders.OneHotEncoder",
    "sklearn.linear_model._logistic.LogisticRegression", "sklearn.linear_model._stochastic_gradient.SGDClassifier",
    "sklearn.dummy.DummyClassifier", "sklearn.utils._bunch.Bunch",
    "numpy.float32", "numpy.float64", "numpy.int64", "numpy.int32", "numpy.dtype", "numpy.ndarray",
    "builtins.slice",
    # embedding features: a reference to the embedding model (name, version, SHA-256) + LSA's fitted arrays
    "labelkit.endmodel.embedding_features.EmbeddingFeatures", "sklearn.decomposition._truncated_svd.TruncatedSVD",
)
_NUMBERED = re.compile(r"^(\d+)\.(npy|npz)$")


class UntrustedModelFile(LabelkitError):
    """A model file names types labelkit does not load, or is not a labelkit end model."""


def save_end_model(model, path) -> None:
    sio = _skops_io()

    from labelkit.endmodel.features import drop_volatile_state

    drop_volatile_state(model.pipeline.named_steps["features"])
    vocabularies = _pop_vocabularies(model.pipeline)
    try:
        payload = {"format": FORMAT, "version": VERSION, "pipeline": model.pipeline,
                   "metadata": json.dumps(model.metadata(), sort_keys=True), "vocabularies": vocabularies}
        data = _canonical(sio.dumps(payload))
    finally:
        _restore_vocabularies(model.pipeline, vocabularies)
    Path(path).write_bytes(data)


def load_end_model(path):
    """The EndModel saved at `path` (a .skops file written by labelkit). Refuses (UntrustedModelFile, one
    line) a file that names any type outside TRUSTED_TYPES; nothing in the file is executed."""
    sio = _skops_io()

    from labelkit.endmodel.model import EndModel

    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UntrustedModelFile(f"Cannot read the model file {path}: {exc.strerror or exc}.") from None
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # noqa: BLE001 - any parse failure means "not a skops file"
        raise UntrustedModelFile(f"{path} is not a labelkit model file (.skops): {type(exc).__name__}.") from None
    refused = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if refused:
        raise UntrustedModelFile(
            f"{path} names types labelkit does not trust ({', '.join(refused)}); it was not loaded. "
            f"Only models written by `labelkit build` load here."
        )
    payload = sio.loads(data, trusted=sorted(set(untrusted)))
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UntrustedModelFile(f"{path} is a skops file but not a labelkit end model.")
    if payload.get("version") != VERSION:
        raise UntrustedModelFile(f"{path} is a labelkit end model of version {payload.get('version')}; this labelkit "
                                 f"reads version {VERSION}.")
    _restore_vocabularies(payload["pipeline"], payload.get("vocabularies") or {})
    meta = json.loads(payload["metadata"])
    meta["classes"] = tuple(meta["classes"])
    model = EndModel(pipeline=payload["pipeline"], **meta)
    if "labelkit.endmodel.embedding_features.EmbeddingFeatures" in untrusted:  # its embedding model, checked now
        from labelkit.endmodel.embedding_features import verify_embeddings

        verify_embeddings(model.pipeline)
    model.compile()  # small batches (served requests) skip the Pipeline's per-call cost, same probabilities
    return model


def _skops_io():
    """skops.io, imported without its default trust list of every scikit-learn estimator: building that
    list imports all of scikit-learn (seconds of CPU). labelkit passes its own TRUSTED_TYPES anyway;
    a narrower default only makes skops report more types as untrusted, never fewer."""
    import sys

    if "skops.io" not in sys.modules:
        import sklearn.utils

        everything = sklearn.utils.all_estimators
        sklearn.utils.all_estimators = lambda *args, **kwargs: []
        try:
            import skops.io  # noqa: F401
        finally:
            sklearn.utils.all_estimators = everything
    return sys.modules["skops.io"]


def _vectorizers(pipeline):
    """(path, vectorizer) of each fitted vectorizer with a vocabulary, e.g. ("text/words", TfidfVectorizer)."""
    for name, part, _ in getattr(pipeline.named_steps["features"], "transformers_", []):
        for sub, vectorizer in getattr(part, "transformer_list", []):
            if hasattr(vectorizer, "vocabulary_"):
                yield f"{name}/{sub}", vectorizer


def _pop_vocabularies(pipeline) -> dict[str, str]:
    """Vocabularies as one newline-joined string each (terms never hold a newline: the analyzers split
    on or normalise whitespace): one JSON value instead of one schema node per term."""
    out = {}
    for key, vectorizer in _vectorizers(pipeline):
        terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.__getitem__)
        out[key] = "\n".join(terms)
        del vectorizer.vocabulary_
    return out


def _restore_vocabularies(pipeline, vocabularies: dict[str, str]) -> None:
    from sklearn.pipeline import FeatureUnion

    features = pipeline.named_steps["features"]
    for name, part, _ in getattr(features, "transformers_", []):
        for sub, vectorizer in getattr(part, "transformer_list", []) if isinstance(part, FeatureUnion) else []:
            if f"{name}/{sub}" in vocabularies:
                text = vocabularies[f"{name}/{sub}"]
                vectorizer.vocabulary_ = {term: i for i, term in enumerate(text.split("\n"))} if text else {}


def _canonical(data: bytes) -> bytes:
    """The same zip with memory addresses (skops names arrays and objects by id()) replaced by
    numbers in order of appearance, and fixed timestamps: same model -> same bytes."""
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(source.read("schema.json"))
    ids: dict[int, int] = {}
    renamed: dict[str, str] = {}

    def number(value: int) -> int:
        return ids.setdefault(value, len(ids))

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "__id__" and isinstance(value, int):
                    node[key] = number(value)
                elif key == "file" and isinstance(value, str) and (numbered := _NUMBERED.match(value)):
                    stem, ext = numbered.groups()
                    renamed[value] = node[key] = f"{number(int(stem))}.{ext}"
                else:
                    walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for old, new in sorted(renamed.items(), key=lambda item: int(item[1].split(".")[0])):
            target.writestr(zipfile.ZipInfo(new, date_time=(1980, 1, 1, 0, 0, 0)), source.read(old),
                            compress_type=zipfile.ZIP_DEFLATED)
        target.writestr(zipfile.ZipInfo("schema.json", date_time=(1980, 1, 1, 0, 0, 0)),
                        json.dumps(schema, indent=1), compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
