"""The labelling page in a real browser (headless Chromium through Playwright): a person opens a pair,
labels its segments by keyboard and by mouse, undoes, reloads and finds the labels kept, and loses none
of them when the server is killed mid-way."""

import pytest
from labelling_browser import LabellingServer, keep_screenshot, wait_for_count
from labelling_pairs import write_branch_pairs

from videodpo.labelling import labels_file

pytestmark = pytest.mark.slow


def segment_labels(page) -> list[str]:
    return page.eval_on_selector_all("#timeline .segment", "buttons => buttons.map(b => b.dataset.label)")


def test_a_person_labels_segments_by_keyboard_and_mouse_and_nothing_saved_is_lost(tmp_path, browser, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the labels file's path is the workspace's, as the server's
    branch = write_branch_pairs(tmp_path, "wan", "dense_dpo", pairs=3, frames=9, segment_frames=4)
    server = LabellingServer(tmp_path, "wan", "dense_dpo", "ana")
    assert "0 of 6 segments labelled" in server.first_line
    page = browser.new_page(viewport={"width": 1000, "height": 720})
    elsewhere = []
    page.on("request", lambda request: None if request.url.startswith(server.url) else elsewhere.append(request.url))
    page.goto(server.url)
    page.wait_for_selector("body[data-ready=true]")
    assert "Pair 0" in page.inner_text("#caption") and page.inner_text("#count") == "0 / 6 labelled"
    page.wait_for_function("document.querySelector('#clip-a').getContext('2d').getImageData(160, 160, 1, 1).data[3] === 255")  # a frame drawn

    page.keyboard.press("ArrowLeft")  # pair 0, segment 0: A, by arrow key
    page.keyboard.press("2")          # pair 0, segment 1: B, by number key
    wait_for_count(page, 2)
    assert "Pair 1" in page.inner_text("#caption")  # on to the next unlabelled segment
    page.click("#segment-1")          # pair 1, segment 1, by mouse
    page.click("#label-tie")
    wait_for_count(page, 3)
    assert "Pair 2" in page.inner_text("#caption")  # the next unlabelled segment after it
    page.click("#previous-pair")      # back for pair 1, segment 0
    page.click("#segment-0")
    page.click("#label-b")
    wait_for_count(page, 4)
    answers = {(label.pair, label.segment): label.label for label in labels_file.read_labels(branch.labels).values()}
    assert answers == {(0, 0): "a", (0, 1): "b", (1, 0): "b", (1, 1): "tie"}

    page.keyboard.press("u")          # undo takes back pair 1, segment 0 ...
    wait_for_count(page, 3)
    page.keyboard.press("0")          # ... which is labelled a tie instead
    wait_for_count(page, 4)
    keep_screenshot(page)

    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.inner_text("#count") == "4 / 6 labelled" and "Pair 2" in page.inner_text("#caption")
    page.click("#previous-pair")
    assert "Pair 1" in page.inner_text("#caption") and segment_labels(page) == ["tie", "tie"]
    page.click("#next-unlabelled")    # pair 2, segment 0
    page.keyboard.press("ArrowRight")
    wait_for_count(page, 5)
    server.kill()                     # mid-way: five answers given, each acknowledged
    saved = labels_file.read_labels(branch.labels)
    assert {(label.pair, label.segment): label.label for label in saved.values()} == {
        (0, 0): "a", (0, 1): "b", (1, 0): "tie", (1, 1): "tie", (2, 0): "b"}
    assert {label.annotator for label in saved.values()} == {"ana"}
    assert not elsewhere, elsewhere

    again = LabellingServer(tmp_path, "wan", "dense_dpo", "ana")  # the person comes back
    try:
        assert "5 of 6 segments labelled" in again.first_line
        page.goto(again.url)
        page.wait_for_selector("body[data-ready=true]")
        assert "Pair 2" in page.inner_text("#caption") and page.inner_text("#count") == "5 / 6 labelled"
        page.keyboard.press("ArrowLeft")
        wait_for_count(page, 6)
        assert "Every asked segment is labelled" in page.inner_text("#message")
    finally:
        again.kill()
    assert len(labels_file.read_labels(branch.labels)) == 6
