"""The labelling page's server: the page itself, the branch's pairs and clips, and one JSON call per
answer. It listens on 127.0.0.1 only: labels are one person's work on their own machine, not a
service. Every answer is written to the labels file before the page hears it was taken.

    GET  /                       the page (page.html: no script or style from elsewhere, works offline)
    GET  /api/state              the pairs, their segments, this annotator's labels and the progress
    GET  /clips/<pair>/<a|b>.png  a clip's frames side by side
    POST /api/label              {"pair", "segment", "label": "a" | "b" | "tie"}
    POST /api/undo               take back this session's last answer
"""

from __future__ import annotations

import json
import re
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from videodpo.labelling import labels_file
from videodpo.labelling.labels_file import Label, LabelsFileError
from videodpo.labelling.pair_view import BranchPairs, page_state

PAGE = Path(__file__).with_name("page.html")
LOOPBACK = "127.0.0.1"
CLIP_PATH = re.compile(r"^/clips/(\d+)/([ab])\.png$")


class LabellingSession:
    """One annotator labelling one branch's pairs into one labels file (which may hold other
    annotators' labels too: they are kept as they are)."""

    def __init__(self, pairs: BranchPairs, path: str | Path, annotator: str):
        if not annotator.strip():
            raise LabelsFileError("--annotator: give a name, so that merged labels say who gave each")
        self.pairs, self.path, self.annotator = pairs, Path(path), annotator.strip()
        self.labels = labels_file.read_labels(self.path)  # a malformed file stops here, naming its line
        self.history: list[tuple[tuple[int, int, str], Label | None]] = []  # (key, what it replaced): for undo
        self.lock = threading.Lock()

    def mine(self) -> dict[str, str]:
        """This annotator's answers for the pairs on the page, as "pair:segment" → label."""
        return {
            f"{label.pair}:{label.segment}": label.label
            for label in self.labels.values()
            if label.annotator == self.annotator and label.pair in self.pairs.by_number
            and label.segment in self.pairs.by_number[label.pair].asked
        }

    def stale(self) -> list[str]:
        """Labels in the file for pairs or segments this branch no longer has: kept, reported, never used."""
        found = []
        for label in self.labels.values():
            view = self.pairs.by_number.get(label.pair)
            if view is None or label.segment not in view.asked:
                found.append(f"{label.pair}:{label.segment}")
        return sorted(set(found))

    def progress(self) -> dict:
        return {"labelled": len(self.mine()), "total": self.pairs.asked_total()}

    def state(self) -> dict:
        return {**page_state(self.pairs), "annotator": self.annotator, "labels_file": str(self.path),
                "labels": self.mine(), "progress": self.progress(), "stale": self.stale()}

    def give(self, pair, segment, label) -> dict:
        """Record an answer and save the file; LabelsFileError for an unknown pair, segment or label."""
        if not all(isinstance(value, int) and not isinstance(value, bool) for value in (pair, segment)):
            raise LabelsFileError(f"pair and segment must be whole numbers, not {pair!r} and {segment!r}")
        if label not in labels_file.LABELS:
            raise LabelsFileError(f"label {label!r} is not one of {', '.join(labels_file.LABELS)}")
        self.pairs.check(pair, segment)
        answer = Label(pair, segment, label, self.annotator, labels_file.now())
        with self.lock:
            self.history.append((answer.key, self.labels.get(answer.key)))
            self.labels[answer.key] = answer
            labels_file.write_labels(self.path, self.labels.values())
        return {"labels": self.mine(), "progress": self.progress()}

    def undo(self) -> dict:
        """Take back the last answer of this session: the segment gets what it had before, or nothing."""
        with self.lock:
            undone = None
            if self.history:
                key, before = self.history.pop()
                undone = {"pair": key[0], "segment": key[1]}
                if before is None:
                    self.labels.pop(key, None)
                else:
                    self.labels[key] = before
                labels_file.write_labels(self.path, self.labels.values())
        return {"undone": undone, "labels": self.mine(), "progress": self.progress()}


def handler_for(session: LabellingSession) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 (the base class's name): quiet, the terminal shows the address only
            pass

        def send_body(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def send_json(self, data, status: int = HTTPStatus.OK) -> None:
            self.send_body(status, json.dumps(data).encode(), "application/json")

        def do_GET(self):  # noqa: N802 (http.server's name)
            if self.path in ("/", "/index.html"):
                return self.send_body(HTTPStatus.OK, PAGE.read_bytes(), "text/html; charset=utf-8")
            if self.path == "/api/state":
                return self.send_json(session.state())
            clip = CLIP_PATH.match(self.path)
            if clip and int(clip.group(1)) in session.pairs.by_number:
                return self.send_body(HTTPStatus.OK, session.pairs.filmstrip(int(clip.group(1)), clip.group(2)), "image/png")
            self.send_json({"error": f"nothing at {self.path}"}, HTTPStatus.NOT_FOUND)

        def do_POST(self):  # noqa: N802
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                if self.path == "/api/label":
                    if not isinstance(body, dict):
                        raise LabelsFileError("send a JSON object: {\"pair\", \"segment\", \"label\"}")
                    return self.send_json(session.give(body.get("pair"), body.get("segment"), body.get("label")))
                if self.path == "/api/undo":
                    return self.send_json(session.undo())
                self.send_json({"error": f"nothing at {self.path}"}, HTTPStatus.NOT_FOUND)
            except (LabelsFileError, json.JSONDecodeError, ValueError) as error:
                self.send_json({"error": str(error)}, HTTPStatus.BAD_REQUEST)

    return Handler


def make_server(session: LabellingSession, port: int = 0) -> ThreadingHTTPServer:
    """A server for the session on 127.0.0.1:`port` (0: a free port), not yet serving."""
    return ThreadingHTTPServer((LOOPBACK, port), handler_for(session))
