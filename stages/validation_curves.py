"""DVC stage `validation_curves`: every method's validation warping error during training, in every
model family (plots/<family>/train/<method>/validation.csv, written by train@<family>-<method>),
against training seconds and against data consumed (DPO pairs drawn, VADER clips sampled), on one
figure: plots/eval/validation.png, a row of two charts per family. Validation samples training prompts with seeds of their own, so these
curves say how fast each method gets where it gets, never what it is worth on dev or test.
"""

import csv
from pathlib import Path

from videodpo.config import load_config
from videodpo.core import layout, phases
from videodpo.evaluation import visuals

FIGURE = Path("plots/eval/validation.png")


def read_validation_tables(family: str, methods: list[str]) -> dict[str, list[dict]]:
    """Each method's validation rows in a family, for the methods whose training validated."""
    tables = {}
    for method in methods:
        table = layout.branch(family, method).train_plots / "validation.csv"
        if table.is_file():
            rows = list(csv.DictReader(table.read_text().splitlines()))
            if rows:
                tables[method] = rows
    return tables


def main() -> None:
    config = load_config()
    FIGURE.parent.mkdir(parents=True, exist_ok=True)
    charts, x_labels = {}, {}
    for family in config.families:
        tables = read_validation_tables(family, config.methods)

        def series(x: str) -> dict:
            return {m: ([float(r[x]) for r in rows], [float(r["warping_error"]) for r in rows]) for m, rows in tables.items()}

        by_time, by_data = f"{family}: validation warping error by training time", f"{family}: … by data consumed"
        charts.update({by_time: series("train_seconds"), by_data: series("consumed")})
        x_labels.update({by_time: "training seconds", by_data: "DPO pairs drawn / VADER and GRPO clips sampled"})
    visuals.curves(charts, FIGURE, x_labels=x_labels, columns=2)


if __name__ == "__main__":
    with phases.stage_run("validation_curves"):
        main()
