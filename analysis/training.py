"""Training a sentiment classifier: vocabulary, length-bucketed batches, Adam, early stopping.

The recipe (one function, :func:`train`):

1. Tokenize the training split with the model's :class:`~analysis.tokenizer.Tokenizer` and
   keep the ``vocab_size`` most frequent tokens (ids 0/1 are ``<pad>``/``<unk>``).
2. Every epoch, cut a seeded permutation of the training set into pools of
   ``batch_size * bucket_batches`` documents, sort each pool by length, cut it into
   batches, and shuffle the batches (:func:`bucket_batches`). Batches then hold documents
   of similar length, so little compute goes to padding, yet their make-up changes from
   epoch to epoch.
3. Loss: binary cross-entropy on the single logit of a binary dataset; softmax cross-entropy
   on C logits when the dataset has C > 2 classes (labels 0..C-1,
   ``rnnscope.analysis.multiclass_data.num_classes``; the checkpoint's ``num_classes`` is C). Optimizer: Adam with decoupled weight
   decay (``torch.optim.AdamW``; ``weight_decay=0`` is plain Adam), its rate multiplied by
   ``lr_decay`` after every epoch (1: constant). Dropout on the input embeddings only. The
   gradient's global L2 norm is clipped to ``clip``. Optionally the recurrent matrix starts
   orthogonal or as the identity (``recurrent_init``), and documents keep their last
   ``max_len`` tokens instead of their first (``truncate="tail"``).
4. After each epoch the validation accuracy is measured; the weights of the best epoch
   (ties: the earlier) are kept, and training stops once ``patience`` epochs in a row
   bring no improvement.

Runs are deterministic for a given ``seed`` on a given device and thread count:
``torch.manual_seed`` seeds initialization and dropout, a numpy ``Generator`` the batches.
"""
from __future__ import annotations

import copy
import importlib.metadata
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from rnnscope.analysis.cells import ARCHS
from rnnscope.analysis.model import Model, RNNClassifier, pad_batch
from rnnscope.analysis.multiclass_data import num_classes
from rnnscope.analysis.tokenizer import TRUNCATIONS, Tokenizer, Vocab, build_vocab, truncate_tokens

Progress = Callable[[float, str], None]

# Caps that keep a typo from allocating tens of GB (checkpoint loading has its own caps).
MAX_HIDDEN = 4096
MAX_EMBED = 4096
MAX_VOCAB = 2_000_000
MAX_LEN = 100_000

RECURRENT_INITS = ("default", "orthogonal", "identity")


@dataclass
class TrainConfig:
    """Hyperparameters of one training run (all of them end up in the checkpoint).

    Attributes
    ----------
    arch : {"lstm", "gru", "ugrnn", "vrnn"}
    hidden : int            hidden size H (the LSTM state is 2H)
    embed : int             embedding size E
    vocab_size : int        vocabulary size including ``<pad>`` and ``<unk>``
    max_len : int           documents are truncated to ``max_len`` tokens (which ones: ``truncate``)
    truncate : {"head", "tail"}  keep the first (head, the default) or the last (tail) ``max_len``
                            tokens of a longer document, in training and in the checkpoint's metrics
    epochs : int            maximum number of passes over the training set
    batch_size : int        documents per batch
    lr : float              Adam learning rate (of the first epoch; see ``lr_decay``)
    lr_decay : float        the learning rate is multiplied by this after every epoch:
                            epoch k (1-based) uses ``lr * lr_decay ** (k - 1)``; 1 = constant
    weight_decay : float    decoupled weight decay (AdamW); 0 = plain Adam
    dropout : float         dropout probability on the input embeddings
    clip : float            max global L2 norm of the gradient (0 = no clipping)
    patience : int          stop after this many epochs without a better validation accuracy
    seed : int              seeds initialization, dropout and batch order
    device : str            "cpu" or "cuda" (or "cuda:N")
    threads : int           CPU threads for torch (0 = one per available core). Default 1:
                            the per-step matmuls (batch x (E+H) by (E+H) x 4H) are too small for
                            intra-op threads to pay off, and on a busy 2-core machine a second
                            thread makes steps several times slower (docs/TRAINING.md)
    bucket_batches : int    batches per length-sorting pool (1 = sort within a batch only)
    recurrent_init : {"default", "orthogonal", "identity"}
                            initialization of the recurrent matrix ``weight_hh_l0``, each H x H gate
                            block separately: PyTorch's uniform (default), a random orthogonal matrix,
                            or the identity; either of the last two times ``recurrent_gain``
    recurrent_gain : float  scale of the orthogonal or identity blocks (ignored for "default")
    embed_std : float       standard deviation of the embedding's initial N(0, embed_std^2) entries;
                            0 (default) keeps PyTorch's N(0, 1) and draws nothing extra. A small value
                            keeps a tanh RNN's summed inputs in its linear range at the start
    """

    arch: str = "lstm"
    hidden: int = 128
    embed: int = 64
    vocab_size: int = 10000
    max_len: int = 400
    epochs: int = 10
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 0.0
    dropout: float = 0.0
    clip: float = 1.0
    patience: int = 3
    seed: int = 0
    device: str = "cpu"
    threads: int = 1
    bucket_batches: int = 50
    truncate: str = "head"
    recurrent_init: str = "default"
    recurrent_gain: float = 1.0
    lr_decay: float = 1.0
    embed_std: float = 0.0

    def __post_init__(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"unknown architecture {self.arch!r}; expected one of {', '.join(ARCHS)}")
        for name, low, high in (("hidden", 1, MAX_HIDDEN), ("embed", 1, MAX_EMBED),
                                ("vocab_size", 3, MAX_VOCAB), ("max_len", 1, MAX_LEN),
                                ("epochs", 1, 100_000), ("batch_size", 1, 1_000_000),
                                ("patience", 1, 100_000), ("threads", 0, 4096),
                                ("bucket_batches", 1, 1_000_000)):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
        for name, low, high in (("lr", 0.0, 10.0), ("weight_decay", 0.0, 10.0),
                                ("dropout", 0.0, 0.99), ("clip", 0.0, 1e6)):
            value = float(getattr(self, name))
            if not (math.isfinite(value) and low <= value <= high) or (name == "lr" and value == 0):
                raise ValueError(f"{name} must be in {'(' if name == 'lr' else '['}{low}, {high}], got {value!r}")
        if self.truncate not in TRUNCATIONS:
            raise ValueError(f"truncate must be one of {', '.join(TRUNCATIONS)}, got {self.truncate!r}")
        if self.recurrent_init not in RECURRENT_INITS:
            raise ValueError(f"recurrent_init must be one of {', '.join(RECURRENT_INITS)}, "
                             f"got {self.recurrent_init!r}")
        decay = float(self.lr_decay)
        if not (math.isfinite(decay) and 0.0 < decay <= 1.0):
            raise ValueError(f"lr_decay must be in (0, 1], got {self.lr_decay!r}")
        gain = float(self.recurrent_gain)
        if not (math.isfinite(gain) and 0.0 < gain <= 10.0):
            raise ValueError(f"recurrent_gain must be in (0, 10], got {self.recurrent_gain!r}")
        embed_std = float(self.embed_std)
        if not (math.isfinite(embed_std) and 0.0 <= embed_std <= 10.0):
            raise ValueError(f"embed_std must be in [0, 10], got {self.embed_std!r}")
        if not (self.device == "cpu" or self.device == "cuda" or self.device.startswith("cuda:")):
            raise ValueError(f"device must be 'cpu' or 'cuda[:N]', got {self.device!r}")

    def to_dict(self) -> dict:
        """Plain JSON-serializable dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def available_cores() -> int:
    """CPU cores this process may run on (respects affinity masks / cgroup cpusets)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def resolve_device(device: str) -> torch.device:
    """``torch.device`` for ``device``, with a plain error when CUDA is asked for but absent."""
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available on this machine")
    return torch.device(device)


# --------------------------------------------------------------------------- batching


def bucket_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator,
                   pool_batches: int = 50) -> list[np.ndarray]:
    """One epoch's batches: length-sorted within random pools, batches in random order.

    Parameters
    ----------
    lengths : ndarray of shape (n,)
        Token count of each document.
    batch_size : int
    rng : numpy Generator
        Source of all randomness (the pool permutation and the batch order).
    pool_batches : int
        A pool holds ``batch_size * pool_batches`` documents; larger pools mean less padding
        but less variety in which documents share a batch.

    Returns
    -------
    list of ndarray of int64
        Index arrays; together they cover ``range(n)`` exactly once. Every batch has
        ``batch_size`` entries except possibly the last of each pool.
    """
    lengths = np.asarray(lengths)
    perm = rng.permutation(len(lengths))
    pool = batch_size * pool_batches
    batches = []
    for start in range(0, len(perm), pool):
        chunk = perm[start: start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i: i + batch_size] for i in range(0, len(chunk), batch_size))
    order = rng.permutation(len(batches))
    return [batches[i].astype(np.int64) for i in order]


def count_batches(n: int, batch_size: int, pool_batches: int = 50) -> int:
    """Number of batches :func:`bucket_batches` makes from ``n`` documents."""
    pool = batch_size * pool_batches
    full, rest = divmod(n, pool)
    return full * math.ceil(pool / batch_size) + math.ceil(rest / batch_size)


def sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Deterministic batches for evaluation: indices sorted by length, cut in order."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    return [order[i: i + batch_size] for i in range(0, len(order), batch_size)]


# --------------------------------------------------------------------------- model pieces


def logits(net: RNNClassifier, tokens: torch.Tensor, lengths: torch.Tensor, dropout: float = 0.0) -> torch.Tensor:
    """``net.forward`` with dropout on the embeddings (active only when ``net.training``).

    tokens (B, T) int64, lengths (B,) -> logits (B, num_classes).
    """
    x = net.embedding(tokens)
    if dropout > 0:
        x = F.dropout(x, dropout, net.training)
    return net.readout(net.cell.sequence(x, lengths))


def _loss(out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy; one logit -> BCE, several -> softmax CE."""
    if out.shape[-1] == 1:
        return F.binary_cross_entropy_with_logits(out[:, 0], labels.to(out.dtype))
    return F.cross_entropy(out, labels)


def _predictions(out: torch.Tensor) -> torch.Tensor:
    return (out[:, 0] > 0).long() if out.shape[-1] == 1 else out.argmax(-1)


@torch.no_grad()
def evaluate(net: RNNClassifier, ids: Sequence[np.ndarray], labels: np.ndarray,
             batch_size: int = 256) -> tuple[float, float]:
    """Accuracy and mean loss of ``net`` on encoded documents (eval mode, no dropout).

    Returns (nan, nan) for an empty set.
    """
    if len(ids) == 0:
        return float("nan"), float("nan")
    was_training = net.training
    net.eval()
    device = net.readout.weight.device
    lengths = np.array([len(x) for x in ids])
    correct, loss_sum = 0, 0.0
    for idx in sorted_batches(lengths, batch_size):
        tokens, lens = pad_batch([ids[i] for i in idx])
        y = torch.from_numpy(labels[idx]).to(device)
        out = net(tokens.to(device), lens)
        loss_sum += float(_loss(out, y)) * len(idx)
        correct += int((_predictions(out) == y).sum())
    net.train(was_training)
    return correct / len(ids), loss_sum / len(ids)


# --------------------------------------------------------------------------- training


@dataclass
class _Encoded:
    ids: list[np.ndarray]
    labels: np.ndarray
    lengths: np.ndarray  # tokens per document after truncation (at least 1: pad_batch's rule)


def init_recurrent(cell: torch.nn.Module, method: str, gain: float = 1.0) -> None:
    """Re-initialize ``cell.weight_hh_l0`` in place, one H x H block per gate.

    ``"orthogonal"``: each block a random orthogonal matrix (``torch.nn.init.orthogonal_``,
    drawn from torch's global generator) times ``gain``; ``"identity"``: each block
    ``gain * I``; ``"default"``: leaves the cell's own initialization untouched.
    """
    if method == "default":
        return
    weight = cell.weight_hh_l0
    hidden = weight.shape[1]
    with torch.no_grad():
        for block in weight.split(hidden, 0):
            if method == "orthogonal":
                torch.nn.init.orthogonal_(block, gain=gain)
            elif method == "identity":
                block.copy_(gain * torch.eye(hidden, dtype=weight.dtype, device=weight.device))
            else:
                raise ValueError(f"recurrent_init must be one of {', '.join(RECURRENT_INITS)}, got {method!r}")


def init_embedding(embedding: torch.nn.Embedding, std: float) -> None:
    """Re-draw ``embedding.weight`` in place from N(0, std^2) (torch's global generator), the
    padding row kept at zero; ``std = 0`` leaves PyTorch's N(0, 1) untouched."""
    if std == 0:
        return
    with torch.no_grad():
        torch.nn.init.normal_(embedding.weight, 0.0, std)
        if embedding.padding_idx is not None:
            embedding.weight[embedding.padding_idx].zero_()


def _encode(texts: Sequence[str], labels: np.ndarray, tokenizer: Tokenizer, vocab: Vocab,
            max_len: int, tokens: Sequence[list[str]] | None = None, truncate: str = "head") -> _Encoded:
    toks = tokens if tokens is not None else (tokenizer(t) for t in texts)
    ids = [vocab.encode(truncate_tokens(t, max_len, truncate)) for t in toks]
    return _Encoded(ids, np.asarray(labels, dtype=np.int64), np.array([max(len(x), 1) for x in ids]))


def _version() -> str:
    try:
        return "rnnscope " + importlib.metadata.version("rnnscope")
    except Exception:  # not installed as a package (running from a source tree)
        return "rnnscope unknown"


def _set_threads(config: TrainConfig) -> int:
    threads = config.threads or available_cores()
    torch.set_num_threads(threads)
    return threads


def epoch_lr(config: TrainConfig, epoch: int) -> float:
    """Learning rate of ``epoch`` (1-based): ``config.lr * config.lr_decay ** (epoch - 1)``."""
    return config.lr * config.lr_decay ** (epoch - 1)


def _epoch(net, optimizer, data: _Encoded, config: TrainConfig, rng, device, bar, report) -> dict:
    """One pass over the training set; returns loss, running accuracy, tokens, seconds."""
    net.train()
    batches = bucket_batches(data.lengths, config.batch_size, rng, config.bucket_batches)
    loss_sum, correct, tokens_seen, t0 = 0.0, 0, 0, time.perf_counter()
    for b, idx in enumerate(batches):
        tokens, lens = pad_batch([data.ids[i] for i in idx])
        y = torch.from_numpy(data.labels[idx]).to(device)
        out = logits(net, tokens.to(device), lens, config.dropout)
        loss = _loss(out, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.clip > 0:
            torch.nn.utils.clip_grad_norm_(net.parameters(), config.clip)
        optimizer.step()
        loss_sum += float(loss.detach()) * len(idx)
        correct += int((_predictions(out.detach()) == y).sum())
        tokens_seen += int(lens.sum())
        bar.update(1)
        report(b + 1, len(batches), float(loss.detach()))
    seconds = time.perf_counter() - t0
    n = len(data.ids)
    return {"train_loss": loss_sum / n, "train_accuracy_running": correct / n,
            "tokens": tokens_seen, "train_seconds": seconds}


def train(dataset, config: TrainConfig, progress: Progress | None = None, *,
          command: str | None = None, split_seed: int | None = None,
          show_bar: bool = True) -> tuple[Model, dict]:
    """Train an :class:`RNNClassifier` on ``dataset`` and return it with its history.

    Parameters
    ----------
    dataset : analysis.data.Dataset
        ``train``, ``validation`` and ``test`` splits of texts with 0/1 labels (or 0..C-1).
    config : TrainConfig
    progress : callable(fraction, message), optional
        Called as training advances (fraction of the maximum number of batches, in [0, 1]).
    command : str, optional
        The command line that reproduces this run, stored in the provenance.
    split_seed : int, optional
        The seed ``dataset`` was split with, stored in the provenance.
    show_bar : bool
        Show a tqdm progress bar on stderr.

    Returns
    -------
    model : Model
        The network at its best validation epoch (on CPU), with the vocabulary, tokenizer,
        ``metrics`` {train_accuracy, validation_accuracy, test_accuracy, best_epoch,
        epochs_run, seconds, tokens_per_second} (accuracies in [0, 1], seconds of wall
        time, tokens per second of training steps) and ``provenance`` {dataset,
        dataset_sizes, split_seed, seed, command, version, config; ``classes``, the class
        names in label order, when C > 2}.
    history : dict of lists, one entry per epoch
        epoch, train_loss, train_accuracy_running (in training mode, during the epoch),
        validation_accuracy, validation_loss, train_seconds, tokens_per_second.
    """
    t_start = time.perf_counter()
    if len(dataset.train) == 0:
        raise ValueError("the training split is empty")
    device = resolve_device(config.device)
    threads = _set_threads(config)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    tokenizer, vocab, splits = _encode_splits(dataset, config)

    # float32 explicitly: a caller may have changed torch's default dtype.
    classes = num_classes(dataset)
    head = 1 if classes <= 2 else classes  # binary: one logit (BCE); C > 2: C logits (softmax CE)
    net = RNNClassifier(config.arch, len(vocab), config.embed, config.hidden, head)
    init_recurrent(net.cell, config.recurrent_init, config.recurrent_gain)  # "default": no-op, draws nothing
    init_embedding(net.embedding, config.embed_std)  # 0: no-op, draws nothing
    net = net.to(device=device, dtype=torch.float32)
    fit = _fit(net, splits, config, rng, device, progress, show_bar)
    net.load_state_dict(fit.best_state)
    net = net.cpu().eval()
    metrics = _final_metrics(net, splits, fit.history, fit.best_epoch, t_start, fit.tokens, fit.train_seconds)
    provenance = {"dataset": dataset.name,
                  "dataset_sizes": {k: len(v.ids) for k, v in splits.items()},
                  "split_seed": split_seed, "seed": config.seed, "command": command or "", "version": _version(),
                  "config": {**config.to_dict(), "threads": threads}}
    if head > 1:
        provenance["classes"] = list(getattr(dataset, "class_names", ())) or [str(c) for c in range(head)]
    if progress:
        progress(1.0, f"done: test accuracy {metrics['test_accuracy']:.4f}")
    return Model(net=net, vocab=vocab, tokenizer=tokenizer, metrics=metrics, provenance=provenance), fit.history


def _encode_splits(dataset, config: TrainConfig) -> tuple[Tokenizer, Vocab, dict[str, _Encoded]]:
    """The tokenizer, the vocabulary of the training split (``config.vocab_size`` words) and
    the train, validation and test splits encoded with them (cut to ``config.max_len`` tokens,
    the first or the last ones as ``config.truncate`` says)."""
    tokenizer = Tokenizer()
    train_tokens = [tokenizer(t) for t in dataset.train.texts]
    vocab = build_vocab(train_tokens, config.vocab_size)
    cut = {"max_len": config.max_len, "truncate": config.truncate}
    splits = {"train": _encode(dataset.train.texts, dataset.train.labels, tokenizer, vocab, tokens=train_tokens, **cut),
              "validation": _encode(dataset.validation.texts, dataset.validation.labels, tokenizer, vocab, **cut),
              "test": _encode(dataset.test.texts, dataset.test.labels, tokenizer, vocab, **cut)}
    return tokenizer, vocab, splits


@dataclass
class _Fit:
    """What the epochs of :func:`_fit` leave behind."""

    history: dict[str, list]
    best_epoch: int  # the epoch of the best validation accuracy, 1-based
    best_state: dict  # the network's weights after that epoch, on CPU
    tokens: int  # training tokens seen
    train_seconds: float  # wall time of the training steps (evaluation excluded)


def _fit(net: RNNClassifier, splits: dict[str, _Encoded], config: TrainConfig, rng: np.random.Generator,
         device: torch.device, progress: Progress | None, show_bar: bool) -> _Fit:
    """Up to ``config.epochs`` epochs of AdamW on the training split, each followed by an
    evaluation on the validation split (the training split when that is empty); stops after
    ``config.patience`` epochs without a better validation accuracy."""
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    select = splits["validation"] if len(splits["validation"].ids) else splits["train"]

    n_batches = count_batches(len(splits["train"].ids), config.batch_size, config.bucket_batches)
    total = n_batches * config.epochs
    history: dict[str, list] = {k: [] for k in ("epoch", "train_loss", "train_accuracy_running", "validation_accuracy",
                                                "validation_loss", "train_seconds", "tokens_per_second")}
    best = {"accuracy": -1.0, "epoch": 0, "state": None}
    tokens_total, train_seconds = 0, 0.0
    bar = tqdm(total=total, desc=f"train {config.arch}", unit="batch", disable=not show_bar, leave=False,
               mininterval=0.1 if sys.stderr.isatty() else 10.0)  # a log file gets a line per 10 s
    try:
        for epoch in range(1, config.epochs + 1):
            for group in optimizer.param_groups:  # lr_decay 1 (the default): config.lr every epoch
                group["lr"] = epoch_lr(config, epoch)
            report = _reporter(progress, epoch, config.epochs, n_batches)
            stats = _epoch(net, optimizer, splits["train"], config, rng, device, bar, report)
            val_acc, val_loss = evaluate(net, select.ids, select.labels)
            _append(history, epoch=epoch, train_loss=stats["train_loss"],
                    train_accuracy_running=stats["train_accuracy_running"], validation_accuracy=val_acc,
                    validation_loss=val_loss, train_seconds=stats["train_seconds"],
                    tokens_per_second=stats["tokens"] / max(stats["train_seconds"], 1e-9))
            tokens_total += stats["tokens"]
            train_seconds += stats["train_seconds"]
            bar.set_postfix(epoch=epoch, loss=f"{stats['train_loss']:.3f}", val=f"{val_acc:.4f}")
            if val_acc > best["accuracy"]:
                best = {"accuracy": val_acc, "epoch": epoch,
                        "state": copy.deepcopy({k: v.detach().cpu() for k, v in net.state_dict().items()})}
            if progress:
                progress(epoch * n_batches / total, f"epoch {epoch}: loss {stats['train_loss']:.4f}, "
                                                    f"validation accuracy {val_acc:.4f}")
            if epoch - best["epoch"] >= config.patience:
                break
    finally:
        bar.close()
    return _Fit(history, best["epoch"], best["state"], tokens_total, train_seconds)


def _final_metrics(net, splits, history, best_epoch, t_start, tokens_total, train_seconds) -> dict:
    acc = {name: evaluate(net, s.ids, s.labels)[0] for name, s in splits.items()}
    return {"train_accuracy": _round(acc["train"]), "validation_accuracy": _round(acc["validation"]),
            "test_accuracy": _round(acc["test"]), "best_epoch": best_epoch,
            "epochs_run": len(history["epoch"]), "seconds": round(time.perf_counter() - t_start, 2),
            "tokens_per_second": round(tokens_total / max(train_seconds, 1e-9), 1)}


def _round(x: float) -> float | None:
    """Accuracy rounded for the checkpoint; None (JSON null) for an empty split."""
    return None if math.isnan(x) else round(float(x), 6)


def _append(history: dict, **values) -> None:
    for k, v in values.items():
        history[k].append(v)


def _reporter(progress: Progress | None, epoch: int, epochs: int, n_batches: int):
    """Per-batch progress callback, throttled to about 50 calls per epoch."""
    every = max(1, n_batches // 50)

    def report(batch: int, total: int, loss: float) -> None:
        if progress and (batch % every == 0):
            done = (epoch - 1) * n_batches + batch
            progress(min(done / (epochs * n_batches), 1.0), f"epoch {epoch}/{epochs}, batch {batch}/{total}, loss {loss:.4f}")

    return report
