"""The labelling page's server, over real HTTP on loopback: it serves a branch's pairs and their
segments, saves each answer to the labels file before it replies, rejects what names no pair or
segment, undoes, and keeps labels it cannot use in the file while reporting them."""

import json
import socket
import threading
import urllib.error
import urllib.request
from contextlib import contextmanager

import pytest
from labelling_pairs import write_branch_pairs

from videodpo.labelling import labels_file
from videodpo.labelling.labels_file import Label, LabelsFileError
from videodpo.labelling.pair_view import BranchPairs
from videodpo.labelling.server import PAGE, LabellingSession, make_server


@contextmanager
def serving(session):
    server = make_server(session, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server
    finally:
        server.shutdown()
        server.server_close()


def call(url, path, body=None):
    request = urllib.request.Request(url + path, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def branch(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return write_branch_pairs(tmp_path, "wan", "dense_dpo", pairs=3, frames=9, segment_frames=4)


def test_the_page_lists_the_pairs_with_their_segments_and_serves_each_clip(branch):
    session = LabellingSession(BranchPairs(branch), branch.labels, "ana")
    with serving(session) as (url, server):
        assert server.server_address[0] == "127.0.0.1"
        status, body = call(url, "/api/state")
        state = json.loads(body)
        assert status == 200 and [p["pair"] for p in state["pairs"]] == [0, 1, 2]
        assert state["pairs"][0]["segments"] == [[0, 5], [5, 9]] and state["pairs"][0]["asked"] == [0, 1]  # wan: frame 0 joins the first
        assert state["progress"] == {"labelled": 0, "total": 6} and state["frames"] == 9
        status, png = call(url, "/clips/1/b.png")
        assert status == 200 and png.startswith(b"\x89PNG")
        assert call(url, "/clips/7/a.png")[0] == 404
        status, page = call(url, "/")
        assert status == 200 and b"<canvas" in page


def test_each_answer_is_in_the_labels_file_before_the_reply_and_a_new_session_finds_it(branch):
    session = LabellingSession(BranchPairs(branch), branch.labels, "ana")
    with serving(session) as (url, _):
        status, body = call(url, "/api/label", {"pair": 1, "segment": 1, "label": "b"})
        assert status == 200 and json.loads(body)["progress"] == {"labelled": 1, "total": 6}
        saved = labels_file.read_labels(branch.labels)
        assert [(label.pair, label.segment, label.label, label.annotator) for label in saved.values()] == [(1, 1, "b", "ana")]
        call(url, "/api/label", {"pair": 1, "segment": 1, "label": "tie"})
        call(url, "/api/label", {"pair": 2, "segment": 0, "label": "a"})
    again = LabellingSession(BranchPairs(branch), branch.labels, "ana")
    assert again.mine() == {"1:1": "tie", "2:0": "a"}
    assert LabellingSession(BranchPairs(branch), branch.labels, "bo").mine() == {}  # each sees their own answers


@pytest.mark.parametrize("body, problem", [
    ({"pair": 9, "segment": 0, "label": "a"}, "no pair 9"),
    ({"pair": 0, "segment": 2, "label": "a"}, "pair 0 has no segment 2"),
    ({"pair": 0, "segment": 0, "label": "left"}, "label 'left' is not one of a, b, tie"),
    ({"pair": "0", "segment": 0, "label": "a"}, "whole numbers"),
    ([1, 2], "JSON object"),
])
def test_an_answer_for_an_unknown_pair_segment_or_label_is_refused_and_not_saved(branch, body, problem):
    with serving(LabellingSession(BranchPairs(branch), branch.labels, "ana")) as (url, _):
        status, reply = call(url, "/api/label", body)
    assert status == 400 and problem in json.loads(reply)["error"]
    assert not branch.labels.exists()


def test_undo_gives_a_segment_back_what_it_had(branch):
    session = LabellingSession(BranchPairs(branch), branch.labels, "ana")
    with serving(session) as (url, _):
        call(url, "/api/label", {"pair": 0, "segment": 0, "label": "a"})
        call(url, "/api/label", {"pair": 0, "segment": 0, "label": "b"})
        call(url, "/api/label", {"pair": 0, "segment": 1, "label": "tie"})
        assert json.loads(call(url, "/api/undo", {})[1])["undone"] == {"pair": 0, "segment": 1}
        assert json.loads(call(url, "/api/undo", {})[1])["labels"] == {"0:0": "a"}
        assert labels_file.read_labels(branch.labels)[(0, 0, "ana")].label == "a"
        call(url, "/api/undo", {})
        assert json.loads(call(url, "/api/undo", {})[1])["undone"] is None
    assert labels_file.read_labels(branch.labels) == {}


def test_labels_for_pairs_the_branch_no_longer_has_are_reported_and_kept(branch):
    labels_file.write_labels(branch.labels, [Label(0, 0, "a", "ana", "t"), Label(5, 0, "b", "ana", "t"), Label(1, 3, "a", "ana", "t")])
    session = LabellingSession(BranchPairs(branch), branch.labels, "ana")
    assert session.stale() == ["1:3", "5:0"] and session.mine() == {"0:0": "a"}
    session.give(0, 1, "b")
    assert len(labels_file.read_labels(branch.labels)) == 4  # the unusable ones stay in the file


def test_a_malformed_labels_file_stops_the_page_naming_its_line(branch):
    branch.labels.parent.mkdir(parents=True)
    branch.labels.write_text(json.dumps({"pair": 0, "segment": 0, "label": "a", "annotator": "ana", "at": "t"}) + "\n{oops\n")
    with pytest.raises(LabelsFileError, match=r"dense_dpo.jsonl:2: not JSON"):
        LabellingSession(BranchPairs(branch), branch.labels, "ana")


def test_whole_clip_pairs_have_one_segment_and_unlabelled_methods_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    vanilla = write_branch_pairs(tmp_path, "animatediff", "vanilla_dpo", pairs=2, frames=8, kind="vanilla")
    assert BranchPairs(vanilla).pairs[0].segments == [(0, 8)]
    dpo = write_branch_pairs(tmp_path, "animatediff", "dpo", pairs=2, frames=8, kind="jitter")
    with pytest.raises(LabelsFileError, match="dpo does not train on labelled pairs"):
        BranchPairs(dpo)


def outside_address() -> str | None:
    """This machine's address on its default route (no packet is sent), if it has one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("198.51.100.1", 9))  # a documentation address: only the route is looked up
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def test_the_server_listens_on_loopback_alone(branch):
    with serving(LabellingSession(BranchPairs(branch), branch.labels, "ana")) as (url, server):
        assert server.server_address[0] == "127.0.0.1" and call(url, "/api/state")[0] == 200
        address = outside_address()
        if address:  # reached through the machine's own network address, nothing answers
            with pytest.raises(OSError):
                socket.create_connection((address, server.server_address[1]), timeout=2).close()


def test_the_page_loads_nothing_from_elsewhere():
    page = PAGE.read_text()
    assert "http://" not in page and "https://" not in page and "//cdn" not in page and "@import" not in page


def test_the_command_names_what_is_missing_and_a_taken_port(branch, capsys):
    from videodpo import label

    assert label.main(["wan", "vader"]) == 2
    assert "data/wan/pairs/vader is missing" in capsys.readouterr().err
    with serving(LabellingSession(BranchPairs(branch), branch.labels, "ana")) as (_, server):
        assert label.main(["wan", "dense_dpo", "--port", str(server.server_address[1])]) == 2
    assert "pick another with --port N" in capsys.readouterr().err
