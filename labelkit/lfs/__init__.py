"""Authoring labeling functions: Python, declarative (keywords, regex, column conditions) and spaCy."""
from labelkit.lfs.core import LabelingFunction, labeling_function
from labelkit.lfs.declarative import column_condition, keywords, regex
from labelkit.lfs.loader import ModuleContents, lf_source_hash, load_lfs, load_modules
from labelkit.lfs.slicing import SlicingFunction, slicing_function
from labelkit.lfs.spacy_lfs import spacy_lf, spacy_patterns

__all__ = [
    "LabelingFunction", "labeling_function", "keywords", "regex", "column_condition",
    "spacy_lf", "spacy_patterns", "load_lfs", "load_modules", "ModuleContents", "lf_source_hash",
    "SlicingFunction", "slicing_function",
]
