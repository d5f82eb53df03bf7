"""labelkit: weak-supervision labeling and data quality.

Authoring API for labeling-function modules:

    from labelkit import labeling_function, ABSTAIN, keywords, regex, column_condition

Notebook API (see labelkit/api.py): `lk.Task.from_frames(...)`, `lk.run(task, lfs)`, `lk.load(dir)`.

Names are imported on first use (PEP 562), so `labelkit --help` does not pay for pandas or numpy.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_EXPORTS = {
    "ABSTAIN": "labelkit.schema",
    "LabelingFunction": "labelkit.lfs.core",
    "labeling_function": "labelkit.lfs.core",
    "keywords": "labelkit.lfs.declarative",
    "regex": "labelkit.lfs.declarative",
    "column_condition": "labelkit.lfs.declarative",
    "spacy_lf": "labelkit.lfs.spacy_lfs",
    "spacy_patterns": "labelkit.lfs.spacy_lfs",
    "similar_to": "labelkit.lfs.similar",
    "slicing_function": "labelkit.lfs.slicing",
    "test_row_detector": "labelkit.quality.testrows",
    "Task": "labelkit.api",
    "Result": "labelkit.api",
    "run": "labelkit.api",
    "load": "labelkit.api",
}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'labelkit' has no attribute {name!r}")
