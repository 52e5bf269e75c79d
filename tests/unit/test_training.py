"""Training: learns a known rule, is deterministic, buckets cleanly, stops early, round-trips.

The synthetic task: documents of neutral filler words with one to three sentiment words
inserted; the label is positive iff the sentiment words are from the positive list. A
bag-of-words model solves it exactly, and so must every architecture.
"""
import csv
import re

import numpy as np
import pytest
import torch

from rnnscope.analysis import checkpoint
from rnnscope.analysis.data import Dataset, Split
from rnnscope.analysis.model import RNNClassifier
from rnnscope.analysis.training import (TrainConfig, bucket_batches, count_batches, epoch_lr, evaluate,
                                        init_embedding, init_recurrent, sorted_batches, train, truncate_tokens)

POSITIVE = ("good", "great", "superb", "lovely", "fine")
NEGATIVE = ("bad", "awful", "poor", "dull", "boring")
FILLER = tuple(f"w{i}" for i in range(40))

SMALL = dict(hidden=16, embed=8, epochs=12, batch_size=32, lr=1e-2, patience=4, threads=1)


def synthetic_split(n: int, seed: int, flip: bool = False) -> Split:
    """``n`` documents of 4-20 filler words plus 1-3 words of the label's sentiment."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        label = int(rng.integers(2))
        words = list(rng.choice(FILLER, int(rng.integers(4, 20))))
        for _ in range(int(rng.integers(1, 4))):
            words.insert(int(rng.integers(len(words) + 1)), str(rng.choice(POSITIVE if label else NEGATIVE)))
        texts.append(" ".join(words))
        labels.append(1 - label if flip else label)
    return Split(texts, np.array(labels))


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return Dataset("synthetic", synthetic_split(600, 1), synthetic_split(150, 2), synthetic_split(300, 3))


@pytest.fixture(scope="module")
def trained_gru(dataset):
    return train(dataset, TrainConfig(arch="gru", seed=3, **SMALL), command="test", show_bar=False)


@pytest.mark.parametrize("arch", ["lstm", "gru", "ugrnn", "vrnn"])
def test_every_architecture_learns_token_sentiment(dataset, arch):
    model, history = train(dataset, TrainConfig(arch=arch, seed=0, **SMALL), show_bar=False)
    assert model.metrics["test_accuracy"] > 0.9
    assert model.metrics["validation_accuracy"] == pytest.approx(max(history["validation_accuracy"]), abs=1e-6)
    # The classifier reads the sentiment words, not the filler: a probe sentence each way.
    p_pos, p_neg = model.predict_proba(["w1 w2 great w3 superb", "w1 w2 awful w3 boring"])
    assert p_pos > 0.5 > p_neg


def test_same_seed_gives_identical_weights(dataset, trained_gru):
    again, history = train(dataset, TrainConfig(arch="gru", seed=3, **SMALL), show_bar=False)
    first = trained_gru[0].net.state_dict()
    for name, tensor in again.net.state_dict().items():
        assert torch.equal(tensor, first[name]), name
    assert history["train_loss"] == trained_gru[1]["train_loss"]
    other, _ = train(dataset, TrainConfig(arch="gru", seed=4, **{**SMALL, "epochs": 1}), show_bar=False)
    assert not torch.equal(other.net.cell.weight_hh_l0, first["cell.weight_hh_l0"])


@pytest.mark.parametrize("n, batch_size, pool", [(1000, 32, 5), (999, 64, 50), (7, 3, 1), (1, 8, 2)])
def test_bucketing_covers_every_example_exactly_once(n, batch_size, pool):
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 400, n)
    for epoch in range(3):
        batches = bucket_batches(lengths, batch_size, rng, pool)
        assert len(batches) == count_batches(n, batch_size, pool)
        assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(n))
        assert max(len(b) for b in batches) <= batch_size
    evaluation = sorted_batches(lengths, batch_size)
    assert np.array_equal(np.sort(np.concatenate(evaluation)), np.arange(n))


def test_bucketing_cuts_padding_and_varies_between_epochs():
    rng = np.random.default_rng(1)
    lengths = rng.integers(1, 400, 3200)
    batches = bucket_batches(lengths, 32, rng, pool_batches=100)

    def padding(bs):  # padded slots / real tokens
        return sum(len(b) * lengths[b].max() - lengths[b].sum() for b in bs) / lengths.sum()

    shuffled = np.array_split(rng.permutation(3200), 100)
    assert padding(batches) < 0.05 < 0.5 < padding(shuffled)
    again = bucket_batches(lengths, 32, rng, pool_batches=100)
    assert {tuple(sorted(b)) for b in batches} != {tuple(sorted(b)) for b in again}


def test_early_stopping_keeps_best_validation_epoch(dataset):
    """Validation labels are the opposite of the rule, so learning makes validation worse."""
    flipped = Dataset("flipped", dataset.train, synthetic_split(150, 2, flip=True), dataset.test)
    config = TrainConfig(arch="vrnn", seed=0, **{**SMALL, "epochs": 30, "patience": 2})
    model, history = train(flipped, config, show_bar=False)
    val = history["validation_accuracy"]
    best = model.metrics["best_epoch"]
    assert best == int(np.argmax(val)) + 1  # first epoch with the highest accuracy
    assert model.metrics["epochs_run"] == len(val) == best + config.patience < config.epochs
    assert model.metrics["validation_accuracy"] == pytest.approx(val[best - 1], abs=1e-6)
    # The kept weights are the best epoch's, not the last: recompute on the validation set.
    ids = [model.encode(t) for t in flipped.validation.texts]
    assert evaluate(model.net, ids, flipped.validation.labels)[0] == pytest.approx(val[best - 1], abs=1e-12)
    assert val[-1] < val[best - 1]


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_checkpoint_round_trip_carries_metrics_and_provenance(tmp_path, dataset, trained_gru, suffix):
    model, _ = trained_gru
    path = tmp_path / f"gru{suffix}"
    digest = checkpoint.save(model, path)
    loaded = checkpoint.load(path)
    assert loaded.sha256 == digest
    for name, tensor in model.net.state_dict().items():
        assert torch.equal(loaded.net.state_dict()[name], tensor), name
    assert loaded.vocab.tokens == model.vocab.tokens
    assert loaded.metrics == model.metrics
    assert set(model.metrics) >= {"train_accuracy", "validation_accuracy", "test_accuracy", "epochs_run",
                                  "seconds", "tokens_per_second"}
    prov = loaded.provenance
    assert prov["dataset"] == "synthetic"
    assert prov["dataset_sizes"] == {"train": 600, "validation": 150, "test": 300}
    assert prov["seed"] == 3 and prov["command"] == "test" and prov["version"].startswith("rnnscope ")
    assert prov["config"]["arch"] == "gru" and prov["config"]["hidden"] == 16
    texts = dataset.test.texts[:50]
    assert np.allclose(loaded.predict_proba(texts), model.predict_proba(texts), atol=1e-6)


def test_test_accuracy_metric_matches_predictions(dataset, trained_gru):
    model, _ = trained_gru
    predicted = (model.predict_proba(dataset.test.texts) > 0.5).astype(int)
    assert model.metrics["test_accuracy"] == pytest.approx(np.mean(predicted == dataset.test.labels), abs=1e-6)


def test_vocabulary_comes_from_training_split_only(dataset):
    extra = Split(dataset.test.texts + ["zzzunseen " * 5], np.append(dataset.test.labels, 1))
    model, _ = train(Dataset("s", dataset.train, dataset.validation, extra),
                     TrainConfig(arch="vrnn", **{**SMALL, "epochs": 1, "vocab_size": 30}), show_bar=False)
    assert len(model.vocab) == 30 and model.vocab.tokens[:2] == ["<pad>", "<unk>"]
    assert "zzzunseen" not in model.vocab.index
    assert model.net.embedding.num_embeddings == 30


def test_progress_reports_rise_to_one(dataset):
    seen = []
    train(dataset, TrainConfig(arch="vrnn", **{**SMALL, "epochs": 2}), progress=lambda f, m: seen.append((f, m)),
          show_bar=False)
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and 0 <= fractions[0] and fractions[-1] == 1.0
    assert all(isinstance(m, str) and m for _, m in seen)


@pytest.mark.parametrize("bad", [dict(arch="transformer"), dict(hidden=0), dict(lr=0.0), dict(lr=float("nan")),
                                 dict(dropout=1.0), dict(epochs=1.5), dict(device="tpu"), dict(vocab_size=2),
                                 dict(truncate="middle"), dict(recurrent_init="xavier"), dict(recurrent_gain=0.0),
                                 dict(recurrent_gain=float("inf")), dict(lr_decay=0.0), dict(lr_decay=1.5),
                                 dict(embed_std=-0.1), dict(embed_std=float("nan"))])
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError):
        TrainConfig(**bad)


# --------------------------------------------------------------------------- initialization, truncation


@pytest.mark.parametrize("arch, blocks", [("vrnn", 1), ("gru", 3), ("lstm", 4), ("ugrnn", 2)])
@pytest.mark.parametrize("gain", [1.0, 0.5])
def test_orthogonal_init_gives_orthogonal_gate_blocks(arch, blocks, gain):
    torch.manual_seed(0)
    net = RNNClassifier(arch, 50, 8, 24)
    init_recurrent(net.cell, "orthogonal", gain)
    w = net.cell.weight_hh_l0.detach()
    assert w.shape == (blocks * 24, 24)
    eye = torch.eye(24)
    for block in w.split(24, 0):  # W^T W = gain^2 I, and W W^T too (square)
        assert torch.allclose(block.T @ block, gain ** 2 * eye, atol=1e-5)
        assert torch.allclose(block @ block.T, gain ** 2 * eye, atol=1e-5)
    if blocks > 1:  # independent draws, not one block repeated
        assert not torch.allclose(w[:24], w[24:48])


def test_identity_and_default_init():
    torch.manual_seed(0)
    net = RNNClassifier("gru", 50, 8, 16)
    init_recurrent(net.cell, "identity", 0.9)
    assert torch.equal(net.cell.weight_hh_l0.detach(), 0.9 * torch.eye(16).repeat(3, 1))
    # "default" leaves the weights alone and draws nothing from torch's generator, so the
    # default configuration trains exactly as it did before the option existed.
    torch.manual_seed(1)
    net = RNNClassifier("vrnn", 50, 8, 16)
    weights, state = net.cell.weight_hh_l0.detach().clone(), torch.get_rng_state()
    init_recurrent(net.cell, "default")
    assert torch.equal(net.cell.weight_hh_l0.detach(), weights) and torch.equal(torch.get_rng_state(), state)
    with pytest.raises(ValueError):
        init_recurrent(net.cell, "xavier")


def test_embedding_init_scale():
    torch.manual_seed(0)
    net = RNNClassifier("vrnn", 4000, 32, 16)
    init_embedding(net.embedding, 0.05)
    w = net.embedding.weight.detach()
    assert torch.equal(w[0], torch.zeros(32))  # the padding row stays zero
    assert float(w[1:].std()) == pytest.approx(0.05, rel=0.02) and abs(float(w[1:].mean())) < 1e-3
    # 0 keeps PyTorch's N(0, 1) and draws nothing, as "default" does for W_hh.
    torch.manual_seed(1)
    net = RNNClassifier("vrnn", 4000, 32, 16)
    weights, state = net.embedding.weight.detach().clone(), torch.get_rng_state()
    init_embedding(net.embedding, 0.0)
    assert torch.equal(net.embedding.weight.detach(), weights) and torch.equal(torch.get_rng_state(), state)
    assert float(weights[1:].std()) == pytest.approx(1.0, rel=0.02)
    # train() applies it: the untrained network (epochs of lr ~ 0 leave it as drawn) keeps the scale.
    data = Dataset("verdict", _verdict_at_end(64, 1), _verdict_at_end(32, 2), _verdict_at_end(32, 3))
    model, _ = train(data, TrainConfig(arch="vrnn", seed=0, embed_std=0.01, **{**SMALL, "epochs": 1, "lr": 1e-9}),
                     show_bar=False)
    assert float(model.net.embedding.weight.detach()[1:].std()) == pytest.approx(0.01, rel=0.2)
    assert model.provenance["config"]["embed_std"] == 0.01


def test_truncate_tokens_keeps_first_or_last():
    tokens = [f"t{i}" for i in range(10)]
    assert truncate_tokens(tokens, 3, "head") == ["t0", "t1", "t2"]
    assert truncate_tokens(tokens, 3, "tail") == ["t7", "t8", "t9"]
    for how in ("head", "tail"):
        assert truncate_tokens(tokens, 10, how) == tokens and truncate_tokens(tokens, 50, how) == tokens
    assert truncate_tokens(tokens, 1, "tail") == ["t9"]
    with pytest.raises(ValueError):
        truncate_tokens(tokens, 3, "middle")


def _verdict_at_end(n: int, seed: int) -> Split:
    """20-30 filler words, then one sentiment word: only the last tokens carry the label."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(2, size=n)
    texts = [" ".join([*rng.choice(FILLER, int(rng.integers(20, 31))), str(rng.choice(POSITIVE if y else NEGATIVE))])
             for y in labels]
    return Split(texts, labels)


def test_tail_truncation_trains_on_the_last_tokens():
    data = Dataset("verdict", _verdict_at_end(600, 1), _verdict_at_end(150, 2), _verdict_at_end(300, 3))
    runs = {}
    for how in ("head", "tail"):
        config = TrainConfig(arch="vrnn", seed=0, max_len=4, truncate=how, recurrent_init="orthogonal",
                             **{**SMALL, "epochs": 8})
        runs[how], _ = train(data, config, show_bar=False)
    assert runs["tail"].metrics["test_accuracy"] > 0.9  # the sentiment word is among the last 4 tokens
    assert runs["head"].metrics["test_accuracy"] < 0.65  # the first 4 are filler: chance
    prov = runs["tail"].provenance["config"]
    assert prov["truncate"] == "tail" and prov["max_len"] == 4
    assert prov["recurrent_init"] == "orthogonal" and prov["recurrent_gain"] == 1.0
    # The metric is computed on the last 4 tokens: re-encode them and evaluate.
    model = runs["tail"]
    ids = [model.vocab.encode(model.tokenizer(t)[-4:]) for t in data.test.texts]
    assert evaluate(model.net, ids, data.test.labels)[0] == pytest.approx(model.metrics["test_accuracy"], abs=1e-6)


def test_lr_decay_sets_each_epochs_learning_rate(dataset, monkeypatch):
    assert [epoch_lr(TrainConfig(lr=0.01, lr_decay=0.5), k) for k in (1, 2, 3)] == [0.01, 0.005, 0.0025]
    assert all(epoch_lr(TrainConfig(lr=0.003), k) == 0.003 for k in range(1, 20))  # default: constant
    seen = []
    step = torch.optim.AdamW.step

    def recording_step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", recording_step)
    config = TrainConfig(arch="vrnn", seed=0, **{**SMALL, "epochs": 3, "patience": 3, "lr_decay": 0.5})
    train(dataset, config, show_bar=False)
    per_epoch = len(seen) // 3  # 600 documents in batches of 32: the same number of steps each epoch
    assert sorted(set(seen), reverse=True) == [0.01, 0.005, 0.0025]
    assert seen == [0.01] * per_epoch + [0.005] * per_epoch + [0.0025] * per_epoch


# --------------------------------------------------------------------------- CLI


def _write_csv(path, split: Split) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(zip(split.texts, split.labels.tolist()))


def test_cli_trains_saves_and_prints_test_accuracy_last(tmp_path, capsys):
    from rnnscope.app.cli import main

    data = tmp_path / "reviews.csv"
    _write_csv(data, synthetic_split(800, 5))
    out = tmp_path / "model.safetensors"
    argv = ["train", "--arch", "gru", "--data", str(data), "--hidden", "16", "--embed", "8", "--epochs", "10",
            "--batch-size", "32", "--lr", "0.01", "--seed", "1", "--out", str(out), "--quiet"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    match = re.fullmatch(r"test accuracy: (0\.\d{4}|1\.0000)", lines[-1])
    assert match, lines[-1]
    model = checkpoint.load(out)
    assert float(match.group(1)) == pytest.approx(model.metrics["test_accuracy"], abs=5e-5)
    assert model.metrics["test_accuracy"] > 0.9
    command = model.provenance["command"]
    assert command.startswith("rnnscope train --arch gru --data ") and f"--out {out}" in command
    assert "--lr 0.01" in command and "--max-len 400" in command  # every option explicit
    assert "--truncate head" in command and "--recurrent-init default --recurrent-gain 1.0" in command
    assert "--embed-std 0.0" in command
    assert model.provenance["config"]["truncate"] == "head"
    assert model.provenance["config"]["recurrent_init"] == "default"
    assert "--lr-decay 1.0" in command and model.provenance["config"]["lr_decay"] == 1.0
    assert model.provenance["split_seed"] == 0


@pytest.mark.parametrize("extra, message", [
    (["--data", "/no/such/file.csv"], "neither a registered dataset"),
    (["--out", "model.txt"], "must end in"),
    (["--out", "/no/such/dir/model.pt"], "does not exist"),
    (["--hidden", "-3"], "hidden must be"),
    (["--device", "cuda:7" if torch.cuda.is_available() else "cuda"], ""),
])
def test_cli_bad_input_exits_2_with_message(tmp_path, capsys, extra, message):
    from rnnscope.app.cli import main

    data = tmp_path / "reviews.csv"
    _write_csv(data, synthetic_split(60, 5))
    base = {"--data": str(data), "--out": str(tmp_path / "m.pt")}
    for flag, value in zip(extra[::2], extra[1::2]):
        base[flag] = value
    argv = ["train", "--arch", "vrnn", "--epochs", "1", "--quiet"] + [x for kv in base.items() for x in kv]
    if extra[0] == "--hidden":
        argv += extra
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert not (tmp_path / "m.pt").exists()


def test_cli_defaults_mirror_train_config():
    from rnnscope.app.commands import train as command

    defaults = TrainConfig()
    assert command._DEFAULTS == {k: getattr(defaults, k) for k in command._DEFAULTS}
    assert {field for _, field, _, _ in command._HYPERPARAMETERS} == set(command._DEFAULTS)


# --------------------------------------------------------------------------- benchmark


def test_benchmark_flop_count_and_table(capsys):
    from rnnscope.bench import train_throughput as bench

    # LSTM, H=128, E=64, T=50: 4 gates x 128 x (64 + 128) multiply-adds = 98,304, x2 FLOPs,
    # plus a 128-wide readout once per 50 tokens; training = 3 x forward.
    assert bench.forward_flops_per_token("lstm", 128, 64, 50) == 2 * 98_304 + 256 / 50
    assert bench.train_flops_per_token("vrnn", 10, 5, 1) == 3 * (2 * 10 * 15 + 20)
    assert bench.main(["--hidden", "4", "--embed", "3", "--batch-size", "2", "--seq-len", "3",
                       "--threads", "1", "--steps", "1", "--peak-n", "128"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("1 ")]
    assert [r[1] for r in rows] == ["lstm", "gru", "ugrnn", "vrnn"]
    for r in rows:
        tokens_per_s, gflops, peak, ratio = float(r[2]), float(r[4]), float(r[5]), float(r[6])
        assert tokens_per_s > 0 and peak > 0
        assert ratio == pytest.approx(gflops / peak, rel=0.05, abs=1e-3)
