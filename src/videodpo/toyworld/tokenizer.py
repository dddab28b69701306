"""The toy world's tokenizer, shared by every family's embedded model: a CLIP BPE tokenizer in which
each word of the toy world is one token (AnimateDiff's CLIP and the toy Wan's UMT5 both read it)."""

from __future__ import annotations

from collections import Counter

from tokenizers.pre_tokenizers import ByteLevel
from transformers import CLIPTokenizer

from videodpo import toyworld

TEXT_LENGTH = 16


def _learn_merges(words: list[str]) -> list[tuple[str, str]]:
    """Byte-pair merges learned as BPE learns them: most frequent adjacent pair first.

    Applying merges by rank then replays this learning exactly, so each word ends as one token
    (merges chained word by word would collide: "red" would split "green").
    """
    pieces = {word: [*word[:-1], word[-1] + "</w>"] for word in words}
    merges: list[tuple[str, str]] = []
    while any(len(parts) > 1 for parts in pieces.values()):
        counts = Counter(pair for parts in pieces.values() for pair in zip(parts, parts[1:]))
        best = max(sorted(counts), key=counts.__getitem__)
        merges.append(best)
        for word, parts in pieces.items():
            merged, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and (parts[i], parts[i + 1]) == best:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            pieces[word] = merged
    return merges


def build_toy_tokenizer() -> CLIPTokenizer:
    """A CLIP BPE tokenizer in which every toy-world word is exactly one token.

    The vocabulary is the byte-level alphabet (so any text tokenizes), its end-of-word variants,
    every merged piece of the toy words, and CLIP's two special tokens.
    """
    alphabet = sorted(ByteLevel.alphabet())
    vocab: dict[str, int] = {}
    for symbol in alphabet + [a + "</w>" for a in alphabet]:
        vocab.setdefault(symbol, len(vocab))
    merges = _learn_merges(toyworld.vocabulary())
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    vocab.setdefault("<|startoftext|>", len(vocab))
    vocab.setdefault("<|endoftext|>", len(vocab))
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=TEXT_LENGTH)


