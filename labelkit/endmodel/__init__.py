"""The end model: features + a linear classifier trained on the label model's (soft) labels.

- ``train_end_model(train, targets, classes, ...)`` fits it (features, C and class weights chosen on
  dev; streaming past ``stream_rows`` train rows); ``fit.py``, ``stream.py``.
- ``EndModel.predict_proba(frame)`` / ``.predict(frame)`` / ``.classes`` on a DataFrame with the text
  (and feature) columns; ``model.py``.
- ``load_end_model(path)`` reads a ``model.skops`` file without executing code; ``store.py``.
"""
from labelkit.endmodel.features import FEATURE_SETS, MAX_TEXT_CHARS
from labelkit.endmodel.fit import STREAM_ROWS, train_end_model
from labelkit.endmodel.model import EndModel
from labelkit.endmodel.store import TRUSTED_TYPES, UntrustedModelFile, load_end_model, save_end_model

__all__ = ["EndModel", "FEATURE_SETS", "MAX_TEXT_CHARS", "STREAM_ROWS", "TRUSTED_TYPES", "UntrustedModelFile",
           "load_end_model", "save_end_model", "train_end_model"]
