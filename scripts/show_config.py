"""Print the settings a run would use: params.yaml with `-S key=value` changes and the tier's preset
merged in, validated exactly as the stages validate it.

    PYTHONPATH=src python scripts/show_config.py -S tier=t4
    PYTHONPATH=src python scripts/show_config.py -S tier=a100 -S training.memory_optimized=false --json
    PYTHONPATH=src python scripts/show_config.py --family wan    # as wan's stages read it (its overrides merged)

`-S` takes the same form as `dvc exp run -S`, so this shows what that experiment's stages will read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from videodpo.config import ConfigError, config_from_params, prompt_set_file


def set_param(params: dict, assignment: str) -> None:
    """Apply one `dotted.key=value` (the value read as YAML, as dvc does)."""
    key, separator, value = assignment.partition("=")
    if not separator or not key:
        raise SystemExit(f"-S {assignment!r}: write it as key=value, e.g. -S tier=t4")
    *parents, leaf = key.split(".")
    node = params
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise SystemExit(f"-S {assignment!r}: {part!r} is not a section")
    node[leaf] = yaml.safe_load(value)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-S", "--set-param", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    parser.add_argument("--family", help="the settings as this model family's stages read them (its section's overrides merged)")
    args = parser.parse_args(argv)
    params = yaml.safe_load(Path(args.params).read_text()) or {}
    for assignment in args.set_param:
        set_param(params, assignment)
    try:
        config = config_from_params(params, args.family)
    except ConfigError as error:
        raise SystemExit(str(error)) from None
    settings = config.model_dump(mode="json")
    # the files the prompt settings name on this tier (a folder of built-in sets gives the model's own)
    files = {role: str(prompt_set_file(setting, config.model.source)) for role, setting in settings["prompts"].items()}
    if args.json:
        sys.stdout.write(json.dumps({**settings, "prompt_files": files}, indent=2) + "\n")
    else:
        sys.stdout.write(yaml.safe_dump(settings, sort_keys=False) + f"# prompt files on this tier: {json.dumps(files)}\n")


if __name__ == "__main__":
    main()
