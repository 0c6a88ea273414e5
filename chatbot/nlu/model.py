"""The fastText-style intent network, its deterministic training loop and its file format.

A bag of hashed n-gram embeddings averaged into one vector and fed to a linear layer (optionally
through one small hidden layer) is the classic strong baseline for short texts: it trains in
seconds on two shared CPU cores and answers in well under a millisecond. Embedding rows start at
zero so n-grams never seen in training add nothing at inference; that also lets the saved file
keep only the rows training touched, which keeps it a few MB.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .data import Example
from .features import HashingFeaturizer

__all__ = [
    "FORMAT_VERSION",
    "IntentNet",
    "TrainConfig",
    "TrainResult",
    "load_model_file",
    "merge_members",
    "save_model_file",
    "train_intent_model",
]

FORMAT_VERSION = 1


@dataclass
class TrainConfig:
    """Hyper-parameters; the defaults were picked by grouped 5-fold cross-validation on the training
    cores (see docs/chatbot.md), not on the held-out split."""

    seed: int = 13
    epochs: int = 20
    dim: int = 128
    hidden: int = 0
    lr: float = 0.005
    batch_size: int = 16
    feature_dropout: float = 0.5
    label_smoothing: float = 0.0
    num_buckets: int = 2**18
    min_n: int = 2
    max_n: int = 5
    word_ngrams: int = 2
    word_weight: float = 0.5
    # Members of a seed ensemble (seeds seed, seed+1, ...). With no hidden layer the average of their
    # logits is itself one bag-of-embeddings model with one row of num_classes values per n-gram, so the
    # ensemble is stored and run as a single (smaller) network: no extra latency.
    ensemble: int = 1
    # Logits are divided by this (baked into the saved weights). Fitted on the out-of-fold logits of grouped
    # cross-validation by bench/cv_analysis.py (never on the held-out split); 1.0 = raw softmax.
    temperature: float = 1.3

    def featurizer(self) -> HashingFeaturizer:
        return HashingFeaturizer(
            num_buckets=self.num_buckets,
            min_n=self.min_n,
            max_n=self.max_n,
            word_ngrams=self.word_ngrams,
            word_weight=self.word_weight,
        )


class IntentNet(nn.Module):
    """Weighted sum of hashed n-gram embeddings -> (optional ReLU hidden layer) -> intent logits."""

    def __init__(self, num_buckets: int, dim: int, num_classes: int, hidden: int = 0) -> None:
        super().__init__()
        self.embedding = nn.EmbeddingBag(num_buckets, dim, mode="sum", sparse=True)
        nn.init.zeros_(self.embedding.weight)
        layers: list[nn.Module] = []
        if hidden:
            layers += [nn.Linear(dim, hidden), nn.ReLU()]
            dim = hidden
        layers.append(nn.Linear(dim, num_classes))
        self.head = nn.Sequential(*layers)

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return self.head(self.embedding(ids, offsets, per_sample_weights=weights))

    def logits_for(self, texts: Sequence[str], featurizer: HashingFeaturizer) -> torch.Tensor:
        """Logits of many messages at once (evaluation and calibration; production classifies one by one)."""
        rows = [featurizer.featurize_weighted(text) for text in texts]
        with torch.no_grad():
            return self(*batch_tensors(rows))


@dataclass
class TrainResult:
    model: IntentNet
    featurizer: HashingFeaturizer
    labels: list[str]
    config: TrainConfig
    training_seconds: float
    train_size: int
    losses: list[float] = field(default_factory=list)


Row = tuple[list[int], list[float]]


def batch_tensors(rows: Sequence[Row]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Flatten featurised messages into EmbeddingBag inputs (ids, offsets, per-id weights)."""
    offsets = [0]
    for ids, _weights in rows[:-1]:
        offsets.append(offsets[-1] + len(ids))
    flat = [i for ids, _weights in rows for i in ids]
    weights = [w for _ids, row_weights in rows for w in row_weights]
    return (
        torch.tensor(flat, dtype=torch.long),
        torch.tensor(offsets, dtype=torch.long),
        torch.tensor(weights, dtype=torch.float32),
    )


def _drop_features(row: Row, rate: float, generator: torch.Generator) -> Row:
    """Randomly hide n-grams so the model cannot lean on a single cue (fastText-like regularisation).

    Kept weights are rescaled so the message keeps its total weight.
    """
    ids, weights = row
    if rate <= 0 or len(ids) < 3:
        return row
    keep = (torch.rand(len(ids), generator=generator) >= rate).tolist()
    kept = [(i, w) for i, w, flag in zip(ids, weights, keep, strict=True) if flag]
    if not kept:
        return row
    scale = sum(weights) / sum(w for _i, w in kept)
    return [i for i, _w in kept], [w * scale for _i, w in kept]


def train_intent_model(
    examples: Sequence[Example], config: TrainConfig | None = None, labels: Sequence[str] | None = None
) -> TrainResult:
    """Train deterministically: same examples + same config (seed) -> bit-identical weights.

    Runs on one thread with deterministic algorithms so results do not depend on how busy the
    shared machine is; the previous global torch settings are restored afterwards. With
    ``config.ensemble > 1`` the members are merged into one network (see :func:`merge_members`), and the
    temperature is folded into the last layer.
    """
    config = config or TrainConfig()
    if labels is None:
        labels = sorted({example.intent for example in examples})
    labels = list(labels)
    if config.ensemble > 1 and config.hidden:
        raise ValueError("a seed ensemble is merged into one network only without a hidden layer")
    index = {label: i for i, label in enumerate(labels)}
    featurizer = config.featurizer()
    rows = [featurizer.featurize_weighted(example.text) for example in examples]
    targets = torch.tensor([index[example.intent] for example in examples], dtype=torch.long)
    started = time.perf_counter()
    members, losses = [], []
    for member in range(max(1, config.ensemble)):
        model, member_losses = _train_member(rows, targets, len(labels), config, config.seed + member)
        members.append(model)
        losses.append(member_losses)
    model = merge_members(members, config.temperature) if len(members) > 1 else members[0]
    if len(members) == 1 and config.temperature != 1.0:
        _scale_last_layer(model, 1.0 / config.temperature)
    return TrainResult(
        model=model,
        featurizer=featurizer,
        labels=labels,
        config=config,
        training_seconds=time.perf_counter() - started,
        train_size=len(rows),
        losses=[sum(epoch) / len(epoch) for epoch in zip(*losses, strict=True)],
    )


def merge_members(members: Sequence[IntentNet], temperature: float = 1.0) -> IntentNet:
    """One network whose logits are the mean of the members' logits divided by ``temperature``.

    Each member computes ``W (E^T x) + b``; the mean over members is linear in the bag ``x``, so it is the
    network with embedding rows ``mean_k(E_k W_k^T)`` (one value per intent), an identity head and the mean
    bias. Exact up to float rounding, and the merged rows are smaller than any member's.
    """
    if not members:
        raise ValueError("nothing to merge")
    num_buckets, _dim = members[0].embedding.weight.shape
    num_classes = members[0].head[-1].out_features
    merged = IntentNet(num_buckets, num_classes, num_classes)
    with torch.no_grad():
        rows = sum(m.embedding.weight @ m.head[-1].weight.t() for m in members) / len(members)
        bias = sum(m.head[-1].bias for m in members) / len(members)
        merged.embedding.weight.copy_(rows / temperature)
        merged.head[-1].weight.copy_(torch.eye(num_classes))
        merged.head[-1].bias.copy_(bias / temperature)
    merged.eval()
    return merged


def _scale_last_layer(model: IntentNet, factor: float) -> None:
    with torch.no_grad():
        model.head[-1].weight.mul_(factor)
        model.head[-1].bias.mul_(factor)


# long-function: a deterministic training loop; its setup and epochs read best in order
def _train_member(
    rows: Sequence[Row], targets: torch.Tensor, num_classes: int, config: TrainConfig, seed: int
) -> tuple[IntentNet, list[float]]:
    """One member of the ensemble, trained from ``seed``: (network, mean loss per epoch)."""
    previous_threads = torch.get_num_threads()
    previous_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        model = IntentNet(config.num_buckets, config.dim, num_classes, config.hidden)
        sparse_opt = torch.optim.SparseAdam(list(model.embedding.parameters()), lr=config.lr)
        dense_opt = torch.optim.Adam(list(model.head.parameters()), lr=config.lr)
        steps_per_epoch = math.ceil(len(rows) / config.batch_size)
        total_steps = max(1, steps_per_epoch * config.epochs)
        loss_fn = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        losses: list[float] = []
        step = 0
        model.train()
        for _epoch in range(config.epochs):
            order = torch.randperm(len(rows), generator=generator).tolist()
            epoch_loss = 0.0
            for start in range(0, len(order), config.batch_size):
                picked = order[start : start + config.batch_size]
                batch_rows = [_drop_features(rows[i], config.feature_dropout, generator) for i in picked]
                ids, offsets, weights = batch_tensors(batch_rows)
                # Linear decay of the learning rate, as fastText does, settles the sparse rows gently.
                scale = 1.0 - step / total_steps
                for opt in (sparse_opt, dense_opt):
                    for group in opt.param_groups:
                        group["lr"] = config.lr * max(scale, 0.05)
                sparse_opt.zero_grad()
                dense_opt.zero_grad()
                loss = loss_fn(model(ids, offsets, weights), targets[picked])
                loss.backward()
                sparse_opt.step()
                dense_opt.step()
                epoch_loss += float(loss.detach()) * len(picked)
                step += 1
            losses.append(epoch_loss / max(1, len(rows)))
        model.eval()
    finally:
        torch.use_deterministic_algorithms(previous_deterministic)
        torch.set_num_threads(previous_threads)
    return model, losses


def save_model_file(result: TrainResult, path: str | Path, metrics: dict[str, Any] | None = None) -> Path:
    """Write weights, configuration and labels to one file.

    Only embedding rows that training touched are stored, in float16; the half-precision
    rounding is applied to the in-memory model too, so the metrics computed after saving
    describe exactly what ships.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Rows are picked after the float16 rounding, so saving an already-saved (rounded) model again
    # writes the same file.
    weight = result.model.embedding.weight.detach().to(torch.float16)
    rows = torch.nonzero(weight.abs().sum(dim=1) > 0).flatten().to(torch.int32)
    values = weight[rows.long()]
    head = {key: value.detach().to(torch.float16) for key, value in result.model.head.state_dict().items()}
    payload = {
        "format": FORMAT_VERSION,
        "backend": "torch",
        "labels": list(result.labels),
        "featurizer": result.featurizer.config(),
        "network": {"dim": result.model.embedding.embedding_dim, "hidden": result.config.hidden},
        "train_config": asdict(result.config),
        "train_size": result.train_size,
        "training_seconds": result.training_seconds,
        "metrics": metrics or {},
        "embedding_rows": rows,
        "embedding_values": values,
        "head": head,
    }
    torch.save(payload, path)
    _round_model_to_saved_precision(result.model, rows.long(), values, head)
    return path


def _round_model_to_saved_precision(
    model: IntentNet, rows: torch.Tensor, values: torch.Tensor, head: dict[str, torch.Tensor]
) -> None:
    with torch.no_grad():
        model.embedding.weight.zero_()
        model.embedding.weight[rows] = values.float()
        model.head.load_state_dict({key: value.float() for key, value in head.items()})


def load_model_file(path: str | Path) -> tuple[IntentNet, HashingFeaturizer, list[str], dict[str, Any]]:
    """Rebuild the network from a file written by :func:`save_model_file` (tensors only, weights_only)."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    if payload.get("format") != FORMAT_VERSION or payload.get("backend") != "torch":
        raise ValueError(f"{path} is not a torch intent model of format {FORMAT_VERSION}")
    featurizer = HashingFeaturizer(**payload["featurizer"])
    labels = list(payload["labels"])
    network = payload["network"]
    model = IntentNet(featurizer.num_buckets, network["dim"], len(labels), network["hidden"])
    _round_model_to_saved_precision(
        model, payload["embedding_rows"].long(), payload["embedding_values"], payload["head"]
    )
    model.eval()
    return model, featurizer, labels, payload
