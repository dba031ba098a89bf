"""python3 -m model.drift --report FILE: fails when the candidate's predictions drifted past 0.1."""
import argparse
import json
import sys

LIMIT = 0.1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--report", required=True)
    args = parser.parse_args()
    with open(args.report, encoding="utf-8") as handle:
        shift = float(json.load(handle)["drift"]["prediction_shift"])
    print(f"prediction drift {shift} (limit {LIMIT})")
    sys.exit(0 if shift <= LIMIT else 1)


if __name__ == "__main__":
    main()
