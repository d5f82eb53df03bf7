"""Save a fitted label model as JSON and load it back for serving (no pickle, no torch needed).

The file holds ``{"labelkit_label_model": 1, "name": ..., "state": {...}}``; each model class turns
its fitted parameters into plain lists/numbers with ``to_state()`` and back with ``from_state()``.
A loaded model gives the same ``predict_proba`` as the fitted one (tested to 1e-12).

>>> import numpy as np, tempfile, pathlib
>>> from labelkit.labelmodels import make_label_model
>>> L = np.array([[0, 0, -1], [1, 1, 0]], dtype=np.int8)
>>> model = make_label_model("majority").fit(L, cardinality=2)
>>> path = pathlib.Path(tempfile.mkdtemp()) / "label_model.json"
>>> _ = save_label_model(model, path)
>>> load_label_model(path).predict(L).tolist()
[0, 1]
"""
from __future__ import annotations

import json
from pathlib import Path

from labelkit.errors import LabelModelError

FORMAT_VERSION = 1


def save_label_model(model, path) -> Path:
    """Write the fitted ``model`` to ``path`` as JSON (atomically: labelkit.io.files.atomic_write_text)."""
    from labelkit.io.files import atomic_write_text

    if getattr(model, "prior", None) is None or not hasattr(model, "to_state"):
        raise LabelModelError(f"Cannot save label model {getattr(model, 'name', model)!r}: it is not a fitted "
                              "labelkit label model.")
    path = Path(path)
    payload = {"labelkit_label_model": FORMAT_VERSION, "name": model.name, "state": model.to_state()}
    atomic_write_text(path, json.dumps(payload, allow_nan=False))
    return path


def load_label_model(path):
    """The label model saved at ``path``: an object with ``predict_proba(L)``, ``predict(L)``,
    ``score(L, y)``, ``prior``, ``cardinality`` and ``name``."""
    from labelkit.labelmodels import LABEL_MODELS

    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LabelModelError(f"{path} does not exist; a build writes label_model.json in its output folder.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LabelModelError(f"{path}: not a readable label-model JSON file ({error}).") from None
    if not isinstance(payload, dict) or payload.get("labelkit_label_model") != FORMAT_VERSION:
        raise LabelModelError(f"{path}: not a labelkit label model (format {FORMAT_VERSION} expected).")
    name = payload.get("name")
    if name not in LABEL_MODELS:
        raise LabelModelError(f"{path}: unknown label model {name!r}; known: {', '.join(LABEL_MODELS)}.")
    try:
        return LABEL_MODELS[name].from_state(payload["state"])
    except (KeyError, TypeError, ValueError) as error:
        raise LabelModelError(f"{path}: damaged {name} state ({error!r}).") from None
