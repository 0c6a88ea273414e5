"""Grouped cross-validation with out-of-fold scores: confusion analysis and calibration of the intent model.

Run: OMP_NUM_THREADS=1 .venv/bin/python bench/cv_analysis.py [--folds 5] [--config '{"ensemble": 1}']
     [--dump bench/out/oof.json] [--exclude-group weak_spots_3 --exclude-group weak_spots_2]

Every decorated copy of one hand-written training core stays in the same fold (GroupKFold by core), so each
score is of a model that never saw the core. Prints macro-F1, per-intent F1, the most frequent confusions,
the cores most often missed, and the expected calibration error (ECE, 15 bins) of the raw softmax and after
temperature scaling, the temperature being fitted on the out-of-fold logits (never on the held-out split).
The models are trained with temperature 1 here, whatever the config says: the temperature is what this
script measures.
``--exclude-group`` also scores only the cores of the other groups (e.g. the cores that existed before a batch
was added), so a gain can be told apart from easier new cores.
No Django needed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch

from chatbot.nlu.calibration import expected_calibration_error, fit_temperature
from chatbot.nlu.labels import INTENTS
from chatbot.nlu.metrics import classification_report
from chatbot.nlu.model import TrainConfig, train_intent_model


def grouped_examples():
    from chatbot.data.build_corpus import build_split, training_cores

    groups: list[str] = []
    examples = build_split(training_cores(), "train", variants=3, seed=2024, groups=groups)
    return examples, groups


def oof_logits(config: TrainConfig, folds: int = 5):
    """Out-of-fold logits for every training example, its gold label, its core and per-fold macro-F1."""
    from sklearn.model_selection import GroupKFold

    examples, groups = grouped_examples()
    logits = torch.zeros(len(examples), len(INTENTS))
    fold_f1: list[float] = []
    for train_idx, test_idx in GroupKFold(n_splits=folds).split(examples, groups=groups):
        result = train_intent_model([examples[i] for i in train_idx], config, labels=INTENTS)
        held = [examples[i] for i in test_idx]
        with torch.inference_mode():
            fold_logits = result.model.logits_for([e.text for e in held], result.featurizer)
        logits[torch.as_tensor(test_idx)] = fold_logits
        guessed = [INTENTS[i] for i in fold_logits.argmax(dim=1).tolist()]
        fold_f1.append(classification_report([e.intent for e in held], guessed, INTENTS)["macro_f1"])
    return examples, groups, logits, fold_f1


def core_groups() -> dict[str, str]:
    from chatbot.data.build_corpus import TRAIN_CORES_PATH, read_cores

    return {core.text: core.group for core in read_cores(TRAIN_CORES_PATH)}


def restricted_f1(examples, groups, logits, exclude: list[str]) -> None:
    group_of = core_groups()
    keep = [i for i, core in enumerate(groups) if group_of.get(core) not in exclude]
    gold = [examples[i].intent for i in keep]
    guessed = [INTENTS[int(logits[i].argmax())] for i in keep]
    rep = classification_report(gold, guessed, INTENTS)
    print(
        f"pooled macro-F1 without the cores of group(s) {', '.join(exclude)}: {rep['macro_f1']:.4f} "
        f"({len(keep)} of {len(groups)} examples)"
    )


# long-function: one report, printed in the order it is read
def report(examples, groups, logits, fold_f1, top: int = 25) -> dict:
    gold = [e.intent for e in examples]
    guessed = [INTENTS[i] for i in logits.argmax(dim=1).tolist()]
    rep = classification_report(gold, guessed, INTENTS)
    print(
        f"grouped CV macro-F1: mean of folds {statistics.mean(fold_f1):.4f} "
        f"({', '.join(f'{s:.3f}' for s in fold_f1)}); pooled {rep['macro_f1']:.4f}"
    )
    ranked = sorted(rep["per_intent"].items(), key=lambda kv: kv[1]["f1"])
    print("per intent F1: " + ", ".join(f"{k} {v['f1']:.3f}" for k, v in ranked))
    pairs = Counter((g, p) for g, p in zip(gold, guessed, strict=True) if g != p)
    print("most frequent confusions (gold -> predicted):")
    for (g, p), n in pairs.most_common(top):
        print(f"  {n:4d}  {g} -> {p}")
    missed = Counter(c for c, g, p in zip(groups, gold, guessed, strict=True) if g != p)
    intent_of = dict(zip(groups, gold, strict=True))
    print("cores most often missed (copies missed, gold intent, core):")
    for core, n in missed.most_common(top * 2):
        print(f"  {n}  {intent_of[core]:<22} {core}")
    greet_opt = sum(1 for g, p in zip(gold, guessed, strict=True) if g == "saudacao" and p == "opt_out")
    print(f"greetings read as opt_out: {greet_opt}")
    labels = torch.tensor([INTENTS.index(g) for g in gold])
    ece_raw = expected_calibration_error(torch.softmax(logits, dim=1), labels)
    temperature = fit_temperature(logits, labels)
    ece_cal = expected_calibration_error(torch.softmax(logits / temperature, dim=1), labels)
    conf = torch.softmax(logits, dim=1).max(dim=1).values
    print(
        f"ECE raw {ece_raw:.4f} (mean confidence {conf.mean():.3f}, accuracy {rep['accuracy']:.3f}); "
        f"temperature {temperature:.3f} -> ECE {ece_cal:.4f}"
    )
    return {"macro_f1": statistics.mean(fold_f1), "ece_raw": ece_raw, "ece_cal": ece_cal, "T": temperature}


def fallback_sweep(gold: list[str], probs: torch.Tensor) -> None:
    """The desconhecido fallback (threshold, margin) on the calibrated out-of-fold scores."""
    from bench_classifier import calibrate

    scores = [dict(zip(INTENTS, row, strict=True)) for row in probs.tolist()]
    ranked = calibrate(gold, scores)
    best = ", ".join(f"{f1:.4f} at {t:.2f}/{m:.2f}" for f1, t, m in ranked[:3])
    shipped = next(r for r in ranked if r[1] == 0.3 and r[2] == 0.0)
    print(
        f"fallback, calibrated scores (macro-F1 at threshold/margin): best {best}; 0.30/0.00 {shipped[0]:.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--config", default="{}", help='TrainConfig overrides as JSON, e.g. {"epochs": 30}')
    parser.add_argument("--dump", help="write out-of-fold predictions to this JSON file")
    parser.add_argument(
        "--exclude-group",
        action="append",
        help="also score without the cores of this group (repeat it to leave out several groups at once)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = TrainConfig(**{**json.loads(args.config), "temperature": 1.0})
    print(f"config: {config}")
    examples, groups, logits, fold_f1 = oof_logits(config, args.folds)
    report(examples, groups, logits, fold_f1)
    for count in range(1, len(args.exclude_group or []) + 1):
        # Each prefix of the list: without the newest batch, then without the two newest, ...
        restricted_f1(examples, groups, logits, args.exclude_group[:count])
    if args.dump:
        rows = [
            {"text": e.text, "intent": e.intent, "core": c, "logits": [round(x, 4) for x in row]}
            for e, c, row in zip(examples, groups, logits.tolist(), strict=True)
        ]
        Path(args.dump).write_text(json.dumps(rows, ensure_ascii=False))


if __name__ == "__main__":
    main()
