"""labelkit: weak-supervision labeling and data quality.

Authoring API for labeling-function modules:

    from labelkit import labeling_function, ABSTAIN, keywords, regex, column_condition
"""
from labelkit.lfs import (
    LabelingFunction, column_condition, keywords, labeling_function, regex, spacy_lf, spacy_patterns,
)
from labelkit.schema import ABSTAIN

__version__ = "0.1.0"
__all__ = [
    "ABSTAIN", "LabelingFunction", "labeling_function", "keywords", "regex", "column_condition",
    "spacy_lf", "spacy_patterns", "__version__",
]
