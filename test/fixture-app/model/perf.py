"""python3 -m model.perf --model DIR: times 10,000 predictions of the trained model."""
import argparse
import json
import os
import random
import sys
import time

from . import core

BUDGET_MS = 2000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", required=True)
    args = parser.parse_args()
    with open(os.path.join(args.model, "weights.json"), encoding="utf-8") as handle:
        weights = json.load(handle)["weights"]
    rng = random.Random(3)
    started = time.perf_counter()
    for _ in range(10_000):
        core.predict(weights, [rng.random() for _ in range(len(weights) - 1)])
    elapsed = (time.perf_counter() - started) * 1000
    print(f"10000 predictions in {elapsed:.0f} ms (budget {BUDGET_MS} ms)")
    sys.exit(0 if elapsed <= BUDGET_MS else 1)


if __name__ == "__main__":
    main()
