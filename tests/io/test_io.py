"""labelkit.io.files: one file replaced atomically, and the one reader of the user's tables."""
from __future__ import annotations

import gzip
import os

import pytest

from labelkit.errors import DatasetError
from labelkit.io.files import atomic_file, atomic_write_text, read_table


def test_atomic_write_replaces_the_file_keeps_its_mode_and_leaves_nothing_beside_it(tmp_path):
    path = tmp_path / "rules.toml"
    digest = atomic_write_text(path, "a = 1\n")
    assert path.read_text() == "a = 1\n" and len(digest) == 64
    os.chmod(path, 0o640)
    atomic_write_text(path, "a = 2\n")
    assert path.read_text() == "a = 2\n" and path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["rules.toml"]


def test_a_failed_atomic_write_leaves_the_old_file_as_it_was(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("old\n")
    with pytest.raises(RuntimeError):
        with atomic_file(path) as tmp:
            tmp.write_text("half of the new")
            (tmp.parent / (tmp.name + "-wal")).write_text("SQLite's")
            raise RuntimeError("killed midway")
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.csv"]


def test_read_table_text_keeps_empty_cells_as_text_and_allows_no_rows(tmp_path):
    path = tmp_path / "expectations.csv"
    path.write_text("text,expected,id\nhello,,007\n")
    frame = read_table(path, text=True)
    assert frame.to_dict("records") == [{"text": "hello", "expected": "", "id": "007"}]
    assert read_table(path).loc[0, "expected"] != read_table(path).loc[0, "expected"]  # data files: missing (nan)
    (tmp_path / "header.csv").write_text("text,expected\n")
    assert list(read_table(tmp_path / "header.csv", text=True).columns) == ["text", "expected"]
    with pytest.raises(DatasetError, match="has no rows"):
        read_table(tmp_path / "header.csv")


def test_read_table_reads_gzipped_csv_and_jsonl(tmp_path):
    with gzip.open(tmp_path / "votes.csv.gz", "wt") as out:
        out.write("a,b\nSPAM,\n")
    assert read_table(tmp_path / "votes.csv.gz", text=True).to_dict("records") == [{"a": "SPAM", "b": ""}]
    with gzip.open(tmp_path / "rows.jsonl.gz", "wt") as out:
        out.write('{"a": 1}\n')
    assert read_table(tmp_path / "rows.jsonl.gz").to_dict("records") == [{"a": 1}]
