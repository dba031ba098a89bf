"""Task outcomes for training: made from a fixed seed, so a run is reproducible."""
import random

FEATURES = ("steps", "tools", "length")


def outcomes(since: str, count: int = 600, noise: float = 0.0, seed: int = 7):
    """(features, label) pairs of the tasks since `since`; `noise` flips that share of labels."""
    rng = random.Random(f"{seed}-{since[:7]}")
    rows = []
    for _ in range(count):
        x = [rng.random() for _ in FEATURES]
        label = 1 if 0.9 * x[0] - 0.6 * x[1] + 0.3 * x[2] > 0.2 else 0
        if rng.random() < noise:
            label = 1 - label
        rows.append((x, label))
    return rows
