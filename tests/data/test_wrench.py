"""WRENCH folders: round trip, the real youtube layout, and one DatasetError per malformed input."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from labelkit.errors import DatasetError
from labelkit.wrench import read_vote_table, read_wrench, write_wrench

YOUTUBE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wrench_youtube"  # ../shared beside the repo
CLASSES = ("HAM", "SPAM")


def write_folder(folder: Path, splits: dict, label_json=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in splits.items():
        (folder / f"{name}.json").write_text(json.dumps(rows))
    (folder / "label.json").write_text(json.dumps(label_json or {"0": "HAM", "1": "SPAM"}))
    return folder


def row(text, label, votes, **extra):
    return {"data": {"text": text, **extra}, "label": label, "weak_labels": votes}


def tiny_splits():
    return {
        "train": {"a": row("buy now", 1, [1, -1, 1]), "b": row("nice song", 0, [-1, 0, 0])},
        "valid": {"7": row("subscribe", 1, [1, 1, -1]), "8": row("love it", 0, [0, -1, -1])},
        "test": {"x": row("free money", 1, [1, -1, -1])},
    }


def test_read_tiny_folder(tmp_path):
    data = read_wrench(write_folder(tmp_path / "tiny", tiny_splits()))
    assert data.classes == CLASSES
    assert data.lf_names == ["lf_0", "lf_1", "lf_2"]
    train = data.splits["train"]
    assert train.columns.tolist() == ["id", "text", "label"]
    assert train["id"].tolist() == ["a", "b"] and train["label"].tolist() == ["SPAM", "HAM"]
    assert data.label_matrices["train"].dtype == np.int8
    np.testing.assert_array_equal(data.label_matrices["valid"], [[1, 1, -1], [0, -1, -1]])
    np.testing.assert_array_equal(data.labels["test"], [1])


def test_round_trip_write_then_read(tmp_path):
    frame = pd.DataFrame({"row_id": ["r1", "r2", "r3"], "body": ["hello", "buy NOW", "ok"]})
    L = np.array([[0, -1], [1, 1], [-1, -1]], dtype=np.int8)
    y = np.array([0, 1, 0])
    out = write_wrench(tmp_path / "export", {"train": (frame, L, None), "valid": (frame, L, y), "test": (frame, L, y)},
                       CLASSES, "body", id_column="row_id", lf_names=["kw_buy", "kw_now"])
    assert sorted(p.name for p in out.iterdir()) == ["label.json", "readme.txt", "test.json", "train.json", "valid.json"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # staging folder renamed away
    data = read_wrench(out)
    assert data.classes == CLASSES
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(data.label_matrices[split], L)
        assert data.splits[split]["id"].tolist() == ["r1", "r2", "r3"]
        assert data.splits[split]["text"].tolist() == ["hello", "buy NOW", "ok"]
    np.testing.assert_array_equal(data.labels["valid"], y)
    np.testing.assert_array_equal(data.labels["train"], [-1, -1, -1])
    assert data.splits["train"]["label"].isna().all()
    assert "kw_buy" in (out / "readme.txt").read_text()


def test_write_refuses_to_overwrite_unless_asked(tmp_path):
    frame = pd.DataFrame({"text": ["a"]})
    L = np.array([[0]], dtype=np.int8)
    write_wrench(tmp_path / "out", {"train": (frame, L, None)}, CLASSES, "text")
    with pytest.raises(DatasetError, match="already exists; pass overwrite=True"):
        write_wrench(tmp_path / "out", {"train": (frame, L, None)}, CLASSES, "text")
    write_wrench(tmp_path / "out", {"train": (frame, np.array([[1]], np.int8), None)}, CLASSES, "text", overwrite=True)
    np.testing.assert_array_equal(read_wrench(tmp_path / "out").label_matrices["train"], [[1]])


def test_nested_data_is_flattened_and_classes_fall_back_to_readme(tmp_path):
    folder = tmp_path / "rel"
    folder.mkdir()
    rows = {"0": {"data": {"text": "t", "span": {"start": 1, "end": 4}}, "label": 2, "weak_labels": [2, -1]}}
    (folder / "train.json").write_text(json.dumps(rows))
    (folder / "readme.txt").write_text("0 as neg\n1 as neu\n2 as pos\n-1 as ABSTAIN\n")
    data = read_wrench(folder)
    assert data.classes == ("neg", "neu", "pos")
    assert data.splits["train"].columns.tolist() == ["id", "text", "span.start", "span.end", "label"]
    assert data.splits["train"]["label"].tolist() == ["pos"]


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda s: s["train"].update(b=row("x", 0, [0, 0])), r"train.json: row 'b' has 2 weak labels but row 'a' has 3"),
        (lambda s: s["valid"].update({"8": row("x", 0, [0, 2, -1])}), r"valid.json: row '8' LF lf_1 has vote 2; votes must be -1"),
        (lambda s: s["test"].update(x=row("x", 5, [1, -1, -1])), r"test.json: row 'x' has label 5"),
        (lambda s: s["train"].update(a={"data": {"text": "x"}}), r"train.json: row 'a' is not an object with 'weak_labels'"),
        (lambda s: s["test"].update(x=row("x", 1, [1, -1])), r"splits disagree on the number of LFs"),
    ],
)
def test_malformed_rows_raise_dataset_errors(tmp_path, mutate, message):
    splits = tiny_splits()
    mutate(splits)
    with pytest.raises(DatasetError, match=message):
        read_wrench(write_folder(tmp_path / "bad", splits))


def test_malformed_json_names_file_and_position(tmp_path):
    folder = write_folder(tmp_path / "bad", tiny_splits())
    (folder / "valid.json").write_text('{"7": {"data": {"text": "x"},\n "label": 1 "weak_labels": []}}')
    with pytest.raises(DatasetError, match=r"valid.json: malformed JSON at line 2, column 13"):
        read_wrench(folder)


def test_missing_folder_and_train_file(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        read_wrench(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="has no train.json"):
        read_wrench(tmp_path / "empty")


def test_dev_missing_a_class_warns_not_errors(tmp_path):
    splits = tiny_splits()
    splits["valid"] = {"7": row("subscribe", 1, [1, 1, -1])}
    with pytest.warns(UserWarning, match="dev split has no rows of class\\(es\\) HAM"):
        data = read_wrench(write_folder(tmp_path / "d", splits))
    assert data.labels["valid"].tolist() == [1]


def test_read_vote_table_csv_and_jsonl(tmp_path):
    csv = tmp_path / "votes.csv"
    csv.write_text("id,src_a,src_b\n1,SPAM,\n2,0,ABSTAIN\n3,-1,HAM\n4,NA,1\n".replace("NA", ""))
    L = read_vote_table(csv, ["src_a", "src_b"], CLASSES)
    assert L.dtype == np.int8
    np.testing.assert_array_equal(L, [[1, -1], [0, -1], [-1, 0], [-1, 1]])
    jsonl = tmp_path / "votes.jsonl"
    jsonl.write_text('{"a": "HAM", "b": null}\n{"a": 1, "b": -1}\n')
    np.testing.assert_array_equal(read_vote_table(jsonl, ["a", "b"], CLASSES), [[0, -1], [1, -1]])


def test_read_vote_table_errors(tmp_path):
    csv = tmp_path / "votes.csv"
    csv.write_text("src_a\nSPAM\nEGGS\n")
    with pytest.raises(DatasetError, match=r"column 'src_a' row 2 has vote 'EGGS'"):
        read_vote_table(csv, ["src_a"], CLASSES)
    with pytest.raises(DatasetError, match=r"vote column\(s\) src_b not found; columns are: src_a"):
        read_vote_table(csv, ["src_b"], CLASSES)
    with pytest.raises(DatasetError, match="unsupported vote table format"):
        read_vote_table(csv.rename(tmp_path / "votes.xyz"), ["src_a"], CLASSES)


@pytest.mark.skipif(not YOUTUBE.is_dir(), reason="reference WRENCH youtube data not available")
def test_real_youtube_folder():
    data = read_wrench(YOUTUBE)
    assert data.classes == CLASSES
    assert {s: m.shape for s, m in data.label_matrices.items()} == {"train": (1586, 10), "valid": (120, 10), "test": (250, 10)}
    assert data.splits["valid"]["label"].value_counts().to_dict() == {"HAM": 64, "SPAM": 56}
    assert data.splits["train"]["id"].iloc[0] == "0"
