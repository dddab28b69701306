"""DVC stage `settings@<method>`: the settings each later stage of the method's branch reads.

Writes data/settings/<method>/<stage>.json (see videodpo.method_settings): the branch's stages depend
on these files instead of on params.yaml, so a change to one method's params reruns that branch only.
"""

import sys

from videodpo.config import ConfigError, load_config
from videodpo.method_settings import branch_settings, write_branch_settings


def main(method: str) -> None:
    try:
        settings = branch_settings(load_config(), method)
    except (ConfigError, ValueError) as error:
        raise SystemExit(f"settings@{method}: {error}") from None
    write_branch_settings(f"data/settings/{method}", settings)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
