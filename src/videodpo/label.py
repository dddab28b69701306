"""Label a branch's preference pairs by hand, segment by segment, in the browser; or merge two
annotators' labels files and see how far they agree.

    PYTHONPATH=src python -m videodpo.label wan dense_dpo --annotator ana       # serve the page, print its address
    PYTHONPATH=src python -m videodpo.label merge labels/wan/dense_dpo.jsonl other.jsonl --out labels/wan/dense_dpo.jsonl

The page shows the pairs make_pairs@<family>-<method> wrote (data/<family>/pairs/<method>) and saves
each answer at once to labels/<family>/<method>.jsonl (videodpo.labelling.labels_file).
"""

from __future__ import annotations

import argparse
import json
import sys

from videodpo.core import layout
from videodpo.core.integrity import InputError
from videodpo.labelling.labels_file import LabelsFileError


def serve(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m videodpo.label", description="Label a branch's pairs in the browser.")
    parser.add_argument("family")
    parser.add_argument("method")
    parser.add_argument("--annotator", default="annotator", help="your name, saved with every label (default: annotator)")
    parser.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any free one; default 8765)")
    parser.add_argument("--labels", help="labels file (default labels/<family>/<method>.jsonl)")
    args = parser.parse_args(arguments)
    from videodpo.labelling.pair_view import BranchPairs
    from videodpo.labelling.server import LabellingSession, make_server

    branch = layout.branch(args.family, args.method)
    try:
        session = LabellingSession(BranchPairs(branch), args.labels or branch.labels, args.annotator)
    except (InputError, LabelsFileError) as error:
        print(f"python -m videodpo.label: {error}", file=sys.stderr)
        return 2
    try:
        server = make_server(session, args.port)
    except OSError as error:
        print(f"python -m videodpo.label: cannot listen on 127.0.0.1:{args.port} ({error.strerror}); pick another with --port N, "
              "or --port 0 for any free one", file=sys.stderr)
        return 2
    host, port = server.server_address[:2]
    progress = session.progress()
    print(f"labelling {branch.family.name} {branch.method} as {session.annotator}: {progress['labelled']} of {progress['total']} "
          f"segments labelled, saved to {session.path}", flush=True)
    print(f"open http://{host}:{port}/  (Ctrl+C stops; every answer is already saved)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def merge(arguments: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m videodpo.label merge", description="Merge labels files; report agreement.")
    parser.add_argument("files", nargs="+")
    parser.add_argument("--out", required=True)
    args = parser.parse_args(arguments)
    from videodpo.labelling.labels_file import merge_files

    try:
        report = merge_files(args.files, args.out)
    except LabelsFileError as error:
        print(f"python -m videodpo.label merge: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=1))
    return 0


def main(arguments: list[str]) -> int:
    if arguments[:1] == ["merge"]:
        return merge(arguments[1:])
    return serve(arguments)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
