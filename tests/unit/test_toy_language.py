"""The toy language with modifier words: exact contributions, labels = sign of the exact sum."""
import argparse

import numpy as np
import pytest

from rnnscope.analysis import data
from rnnscope.app.commands import data as data_command
from rnnscope.app.commands import train as train_command
from rnnscope.analysis.toy_language import (FILLER, ToyConfig, document_sum, label_of, token_contributions,
                                            toy_dataset, toy_split)


@pytest.mark.parametrize("text, expected", [
    ("the good movie", [0, 1, 0]),
    ("awful and awesome", [-2, 0, 2]),
    ("not good", [0, -1]),
    ("not the plot was bad", [0, 0, 0, 0, 1]),           # 4 tokens after "not": flipped
    ("not the plot was a bad", [0, 0, 0, 0, 0, -1]),     # 5 tokens after: not flipped
    ("very good", [0, 2]),
    ("very the good", [0, 0, 1]),                        # "very" doubles only the next token
    ("not very awesome", [0, 0, -4]),
    ("not not good", [0, 0, 1]),                         # two flips cancel
    ("not good not bad", [0, -1, 0, -1]),               # "bad" is flipped twice
])
def test_contributions_follow_the_rules(text, expected):
    assert token_contributions(text.split()).tolist() == expected


def test_contributions_of_a_flip_without_not_are_the_valences():
    # The false case of the flip rule: the same words without "not" keep their sign.
    assert token_contributions("the plot was bad".split()).tolist() == [0, 0, 0, -1]
    assert token_contributions("good".split()).tolist() == [1]


def test_labels_are_the_sign_of_the_exact_sum():
    split = toy_split(2000, seed=5)
    sums = np.array([document_sum(t) for t in split.texts])
    assert np.all(sums != 0)                             # ties were drawn again
    assert np.array_equal(split.labels, (sums > 0).astype(np.int64))
    assert [label_of(t) for t in split.texts[:50]] == split.labels[:50].tolist()
    # Modifiers matter: the sign of the bare valence sum disagrees with the label often.
    bare = np.array([sum({"good": 1, "bad": -1, "awesome": 2, "awful": -2}.get(w, 0) for w in t.split())
                     for t in split.texts])
    assert np.mean((bare > 0) != (sums > 0)) > 0.1
    with pytest.raises(ValueError, match="tie"):
        label_of("good bad")


def test_a_flipped_label_is_not_the_sign():
    # The false case: labels that are not the sign of the sum fail the check above.
    split = toy_split(200, seed=5)
    sums = np.array([document_sum(t) for t in split.texts])
    assert not np.array_equal(1 - split.labels, (sums > 0).astype(np.int64))


def test_generator_is_seeded_and_draws_the_vocabulary():
    a, b, c = toy_split(300, seed=1), toy_split(300, seed=1), toy_split(300, seed=2)
    assert a.texts == b.texts and a.texts != c.texts
    config = ToyConfig(min_len=3, max_len=5)
    words = [w for t in toy_split(300, 0, config).texts for w in t.split()]
    assert {len(t.split()) for t in toy_split(300, 0, config).texts} <= {3, 4, 5}
    assert set(words) <= set(FILLER) | {"good", "bad", "awesome", "awful", "not", "very"}
    assert {"not", "very", "good", "awful"} <= set(words)
    with pytest.raises(ValueError):
        ToyConfig(p_valence=0.6, p_not=0.3, p_very=0.2)


def test_toy_is_a_built_in_dataset():
    dataset = data.load("toy", seed=0)                   # no download, no cache
    assert dataset.name == "toy"
    assert [len(s) for s in dataset.splits().values()] == [20000, 2000, 2000]
    assert dataset.train.texts[:20] == toy_dataset(seed=0).train.texts[:20]
    assert 0.45 < dataset.train.positive_fraction < 0.55
    assert dataset.validation.texts[:20] != dataset.train.texts[:20]


# --------------------------------------------------------------------------- CLI


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="rnnscope")
    sub = parser.add_subparsers(dest="command")
    data_command.add_parser(sub)
    train_command.add_parser(sub)
    args = parser.parse_args(argv)
    return args.func(args)


def test_data_list_shows_toy_as_built_in_and_fetch_downloads_nothing(tmp_path, capsys):
    home = tmp_path / "home"
    assert run_cli(["data", "list", "--home", str(home)]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "built in, no download" in rows["toy"] and "'not' flips the next 4 tokens" in rows["toy"]
    assert "not cached" in rows["imdb"] and "built in" not in rows["imdb"]      # a registered source is not
    assert run_cli(["data", "fetch", "toy", "--home", str(home)]) == 0
    out = capsys.readouterr().out
    assert "toy: built in" in out and "no download needed" in out
    assert not home.exists() or not any(home.rglob("*"))                      # nothing was written
    assert run_cli(["data", "fetch", "toy", "sst", "--home", str(home)]) == 2  # unknown names still fail first
    captured = capsys.readouterr()
    assert "unknown data source 'sst'" in captured.err and "toy" not in captured.out


def test_train_help_names_the_toy_language(capsys):
    with pytest.raises(SystemExit):
        run_cli(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split()).replace("- ", "-")  # undo argparse's line wrapping
    assert "toy (the built-in synthetic language" in text
