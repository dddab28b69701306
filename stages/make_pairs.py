"""DVC stage `make_pairs@<family>-<method>`: what a method trains on, made from the family's base
model by the method's own step (videodpo.methods.<method>.make_pairs): preference pairs, labelled
pairs or training queries. Writes data/<family>/pairs/<method> and metrics/<family>/pairs_<method>.json
from the settings in data/<family>/settings/<method>/pairs.json (videodpo.core.layout). Under `accelerate launch` each process makes its own block; the
main process writes them all.
"""

import sys

from videodpo import methods
from videodpo.core import distributed, integrity, layout, precision


def main(branch: layout.Branch, state) -> None:
    methods.load(branch.method).make_pairs(branch, methods.read_stage_settings(branch, "pairs"), state)


if __name__ == "__main__":
    precision.flush_denormals()
    family, method = (sys.argv[1:] + ["", ""])[:2]
    branch = layout.branch(family, method)
    with distributed.process_group() as processes, integrity.stage_errors(branch.stage("make_pairs")):
        main(branch, processes)
