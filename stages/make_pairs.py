"""DVC stage `make_pairs@<method>`: what a method trains on, made from the base model by the
method's own step (videodpo.methods.<method>.make_pairs): preference pairs, labelled pairs or
training queries. Writes data/pairs/<method> and metrics/pairs_<method>.json from the settings in
data/settings/<method>/pairs.json. Under `accelerate launch` each process makes its own block; the
main process writes them all.
"""

import sys

from videodpo import distributed, integrity, methods


def main(method: str, state) -> None:
    step = methods.load(method)
    step.make_pairs(method, methods.read_stage_settings(f"data/settings/{method}", method, "pairs"), state)


if __name__ == "__main__":
    method = sys.argv[1] if len(sys.argv) > 1 else ""
    with distributed.process_group() as processes, integrity.stage_errors(f"make_pairs@{method}"):
        main(method, processes)
