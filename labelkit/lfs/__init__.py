"""Authoring labeling functions: Python, declarative (keywords, regex, column conditions) and spaCy."""
from labelkit.lfs.core import LabelingFunction, labeling_function
from labelkit.lfs.declarative import column_condition, keywords, regex
from labelkit.lfs.loader import lf_source_hash, load_lfs
from labelkit.lfs.spacy_lfs import spacy_lf, spacy_patterns

__all__ = [
    "LabelingFunction", "labeling_function", "keywords", "regex", "column_condition",
    "spacy_lf", "spacy_patterns", "load_lfs", "lf_source_hash",
]
