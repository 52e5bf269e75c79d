"""Atomic writes: whole file or the old one, private by default, no temporary left behind."""
import os
import stat

import pytest

from rnnscope.analysis.atomic import atomic_open, replace_dir, write_bytes, write_text


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_write_replaces_the_file_privately(tmp_path):
    path = tmp_path / "a" / "f.bin"
    write_bytes(path, b"one")
    write_bytes(path, b"two")
    assert path.read_bytes() == b"two" and _mode(path) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.bin"]


def test_shared_files_get_the_bits_asked_for(tmp_path):
    path = write_text(tmp_path / "r.html", "<p>ü</p>", mode_bits=0o644)
    assert path.read_text(encoding="utf-8") == "<p>ü</p>" and _mode(path) == 0o644


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_text(tmp_path / "f.txt", "old")
    with pytest.raises(RuntimeError):
        with atomic_open(path, "w") as fh:
            fh.write("half of the new")
            raise RuntimeError("killed")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_temporaries_can_live_in_another_directory(tmp_path):
    (tmp_path / "tmp").mkdir()
    path = write_bytes(tmp_path / "out" / "x", b"1", tmp_dir=tmp_path / "tmp")
    assert path.read_bytes() == b"1" and list((tmp_path / "tmp").iterdir()) == []


def test_only_whole_file_modes(tmp_path):
    with pytest.raises(ValueError, match="whole files"):
        with atomic_open(tmp_path / "f", "ab"):
            pass


def test_replace_dir_swaps_directories(tmp_path):
    target, tmp = tmp_path / "report", tmp_path / ".report.tmp"
    target.mkdir()
    (target / "old").write_text("1")
    tmp.mkdir()
    (tmp / "new").write_text("2")
    replace_dir(tmp, target)
    assert [p.name for p in target.iterdir()] == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]
