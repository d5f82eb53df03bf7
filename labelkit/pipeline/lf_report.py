"""The LF report (`labelkit lfs`): everything an LF author needs, without training anything."""
from __future__ import annotations

from labelkit.lfs.analysis import lf_examples, lf_summary, matrix_stats
from labelkit.settings.config import Config
from labelkit.data.load import load_task_data


def lf_report(config: Config, *, suggest_similar: str | None = None) -> dict:
    """`suggest_similar`: an embedding model name (or "tfidf") to propose similarity rules from the gold
    dev rows every LF abstains on (labelkit/lfs/similar.py)."""
    from labelkit.lfs.similar import gate_notes, suggest_similar as suggest
    from labelkit.pipeline.stages import apply_votes, load_labeling_functions

    data = load_task_data(config)
    lfs = load_labeling_functions(config, require_lfs=data.votes is None)[0].lfs
    votes = apply_votes(config, data, lfs, splits=("train", "dev"))
    summary, examples = summarize_lfs(config, data, votes)
    extra: dict[str, list] = {"similarity_checks": gate_notes(lfs)}
    if suggest_similar:
        extra["similar_suggestions"] = suggest(data.frames["dev"][config.data.text_column].tolist(), data.gold["dev"],
                                               votes.L["dev"], data.schema.classes, model=suggest_similar,
                                               root=config.root)
    return {
        "task": config.task.name,
        "classes": list(data.schema.classes),
        "label_matrix": {split: matrix_stats(L) for split, L in votes.L.items()},
        "lf_errors": votes.errors,
        "lf_summary": summary,
        "examples": examples,
        **extra,
    }


def summarize_lfs(config: Config, data, votes) -> tuple[list[dict], dict]:
    """Per-LF summary (train coverage, dev accuracy) and example rows, as `lfs` and `build` show them."""
    classes = data.schema.classes
    summary = lf_summary(votes.L["train"], votes.lf_names, classes, L_dev=votes.L["dev"], y_dev=data.gold["dev"],
                         kinds=votes.kinds)
    examples = lf_examples(data.frames["train"], votes.L["train"], data.frames["dev"], votes.L["dev"],
                           data.gold["dev"], votes.lf_names, classes, id_column=config.data.id_column,
                           text_column=config.data.text_column, k=config.lfs.examples, seed=config.task.seed)
    return summary, examples
