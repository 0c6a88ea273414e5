"""fastText-style hashed features: word unigrams, word bigrams and character n-grams.

Hashing keeps the model a fixed size without a vocabulary file, and character n-grams
inside word boundaries ("<pag", "agu", "uei>") let misspellings such as "paguey" or
"pagei" share most of their features with "paguei". crc32 is used instead of Python's
``hash`` because the latter is salted per process and would break saved models.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise

from .normalize import normalize

__all__ = ["HashingFeaturizer"]

_TOKEN_RE = re.compile(r"[a-z0-9$_]+|\?")
_DIGITS_RE = re.compile(r"\d+")


def _shape(word: str) -> str:
    """Collapse numbers into a shape token so "dia 15" and "dia 28" look alike to the model."""
    return _DIGITS_RE.sub("0", word) if any(ch.isdigit() for ch in word) else word


@dataclass(frozen=True)
class HashingFeaturizer:
    """Turns a raw message into a list of bucket ids for ``nn.EmbeddingBag``.

    The configuration is stored with the weights so training and inference agree.
    """

    num_buckets: int = 2**18
    min_n: int = 2
    max_n: int = 5
    word_ngrams: int = 2
    word_weight: float = 0.5

    def config(self) -> dict[str, int | float]:
        return {
            "num_buckets": self.num_buckets,
            "min_n": self.min_n,
            "max_n": self.max_n,
            "word_ngrams": self.word_ngrams,
            "word_weight": self.word_weight,
        }

    def _bucket(self, feature: str) -> int:
        return zlib.crc32(feature.encode("utf-8")) % self.num_buckets

    def tokens(self, text: str) -> list[str]:
        """Normalised, shape-collapsed word tokens of ``text``."""
        return [_shape(tok) for tok in _TOKEN_RE.findall(normalize(text))]

    def featurize(self, text: str) -> list[int]:
        """All bucket ids for ``text`` (word, bigram and character n-gram ids, in that order)."""
        return self.featurize_weighted(text)[0]

    def featurize_weighted(self, text: str) -> tuple[list[int], list[float]]:
        """Bucket ids plus one weight per id for a weighted-sum EmbeddingBag.

        A plain mean lets character n-grams (about 15 per word) drown the word and bigram
        features (1-2 per word). Like the union of a word TF-IDF block and a char TF-IDF block,
        each block gets a fixed share of the total weight: ``word_weight`` for words+bigrams,
        the rest for character n-grams, spread evenly inside each block.
        """
        words = self.tokens(text)
        if not words:
            return [self._bucket("<empty>")], [1.0]
        word_ids: list[int] = []
        char_ids: list[int] = []
        for word in words:
            own, pieces = _word_features(self, word)
            word_ids.append(own)
            char_ids.extend(pieces)
        if self.word_ngrams >= 2:
            padded = ["<s>", *words, "</s>"]
            for left, right in pairwise(padded):
                word_ids.append(self._bucket(f"b:{left} {right}"))
        if not char_ids:
            return word_ids, [1.0 / len(word_ids)] * len(word_ids)
        word_share = self.word_weight / len(word_ids)
        char_share = (1.0 - self.word_weight) / len(char_ids)
        return word_ids + char_ids, [word_share] * len(word_ids) + [char_share] * len(char_ids)


@lru_cache(maxsize=65536)
def _word_features(featurizer: HashingFeaturizer, word: str) -> tuple[int, tuple[int, ...]]:
    """(id of the word itself, ids of its character n-grams); cached because words repeat a lot."""
    own = featurizer._bucket(f"w:{word}")
    pieces: list[int] = []
    # Tokens made of digits, punctuation or emoji markers gain nothing from sub-word pieces.
    if word.isalpha() and len(word) > 1:
        wrapped = f"<{word}>"
        for n in range(featurizer.min_n, featurizer.max_n + 1):
            for start in range(len(wrapped) - n + 1):
                pieces.append(featurizer._bucket(f"c:{wrapped[start : start + n]}"))
    return own, tuple(pieces)
