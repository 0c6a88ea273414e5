"""Honest confidences: expected calibration error and temperature scaling.

A network trained to zero loss on decorated copies of its own cores answers "100 %" for almost everything,
also for sentences it gets wrong. Temperature scaling divides the logits by one number ``T`` fitted to
minimise the negative log-likelihood of *out-of-fold* predictions (grouped cross-validation by core, see
bench/cv_analysis.py), never of the held-out split; it does not change which intent wins, only how sure
the model says it is.
"""

from __future__ import annotations

from itertools import pairwise

import torch

__all__ = ["expected_calibration_error", "fit_temperature"]


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> float:
    """Weighted mean gap between confidence and accuracy over ``bins`` equal-width confidence bins."""
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == labels).float()
    edges = torch.linspace(0, 1, bins + 1)
    total = 0.0
    for low, high in pairwise(edges.tolist()):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            gap = (confidence[inside].mean() - correct[inside].mean()).abs()
            total += float(gap) * int(inside.sum()) / len(labels)
    return total


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, steps: int = 200) -> float:
    """The ``T > 0`` minimising the cross-entropy of ``softmax(logits / T)`` (optimised in log space)."""
    logits = logits.detach().float()
    log_t = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.1, max_iter=steps, line_search_fn="strong_wolfe")
    loss_fn = torch.nn.CrossEntropyLoss()

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = loss_fn(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimiser.step(closure)
    return float(log_t.detach().exp())
