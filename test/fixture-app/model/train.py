"""python3 -m model.train --since DATE --out DIR --report FILE: trains and writes the model and its report."""
import argparse
import json
import os

from . import core, data


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--since", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--report", required=True)
    args = parser.parse_args()
    config = core.load_config()
    rows = data.outcomes(args.since, noise=float(config.get("label_noise", 0.0)))
    weights = core.fit(rows, int(config["epochs"]), float(config["learning_rate"]))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "weights.json"), "w", encoding="utf-8") as handle:
        json.dump({"weights": weights, "features": config["features"]}, handle)
    held_out, reference_rate = core.reference(args.since)
    result = core.report(weights, held_out, reference_rate)
    with open(args.report, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    print(f"trained on {len(rows)} tasks since {args.since}: {json.dumps(result)}")


if __name__ == "__main__":
    main()
