"""DVC stage `validation_curves`: every method's validation warping error during training
(plots/train/<method>/validation.csv, written by train@<method>), against training seconds and
against data consumed (DPO pairs drawn, VADER clips sampled), on one figure:
plots/eval/validation.png. Validation samples training prompts with seeds of their own, so these
curves say how fast each method gets where it gets, never what it is worth on dev or test.
"""

import csv
from pathlib import Path

from videodpo import visuals
from videodpo.config import load_config

FIGURE = Path("plots/eval/validation.png")


def read_validation_tables(methods: list[str]) -> dict[str, list[dict]]:
    """Each method's validation rows, for the methods whose training validated."""
    tables = {}
    for method in methods:
        table = Path("plots/train") / method / "validation.csv"
        if table.is_file():
            rows = list(csv.DictReader(table.read_text().splitlines()))
            if rows:
                tables[method] = rows
    return tables


def main() -> None:
    tables = read_validation_tables(load_config().methods)
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    by_time, by_data = "validation warping error by training time", "… by data consumed"

    def series(x: str) -> dict:
        return {m: ([float(r[x]) for r in rows], [float(r["warping_error"]) for r in rows]) for m, rows in tables.items()}

    visuals.curves({by_time: series("train_seconds"), by_data: series("consumed")}, FIGURE,
                   x_labels={by_time: "training seconds", by_data: "DPO pairs drawn / VADER clips sampled"})


if __name__ == "__main__":
    main()
