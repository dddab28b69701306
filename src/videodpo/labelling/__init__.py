"""People in the loop: preference labels given by hand, segment by segment, on a page in the browser.

labels_file: the labels file (labels/<family>/<method>.jsonl), its checks, merging and agreement.
pair_view: a branch's pairs as the page shows them (clips, segments, which segments are asked).
server: the page and its small JSON interface, on 127.0.0.1 only.
Run it with `python -m videodpo.label <family> <method>`.
"""
