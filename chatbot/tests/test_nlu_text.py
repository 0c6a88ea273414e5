"""Normalisation and featurisation: the pieces that make "Siiim, JÁ PAGUEI 👍" look like "sim ja paguei"."""

from __future__ import annotations

import pytest

from chatbot.nlu.features import HashingFeaturizer
from chatbot.nlu.normalize import normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("JÁ PAGUEI ontem", "ja paguei ontem"),
        ("siiiim", "sim"),
        ("vc pode mandar a msg hj pfv", "voce pode mandar a mensagem hoje por favor"),
        ("obg 👍", "obrigado emo_ok"),
        ("kkkkkk", "risada"),
        ("manda a 2ª via", "manda a segunda via"),
        ("Quanto é???", "quanto e ?"),
        ("R$150,50", "r$ 150 50"),
        ("🙏🏽", "emo_prece"),
        ("qro o pgto msm hj", "quero o pagamento mesmo hoje"),
    ],
)
def test_it_normalizes_whatsapp_spelling(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_it_keeps_double_letters_that_are_real_spelling() -> None:
    assert normalize("isso carro") == "isso carro"


def test_it_collapses_numbers_into_a_shape_token() -> None:
    featurizer = HashingFeaturizer()
    assert featurizer.tokens("dia 15 em 3x") == ["dia", "0", "em", "0x"]
    assert featurizer.featurize("pago dia 15") == featurizer.featurize("pago dia 28")


def test_it_produces_stable_ids_across_featurizer_instances() -> None:
    # crc32, not Python's salted hash: a saved model must see the same ids in a new process.
    assert HashingFeaturizer().featurize("ja paguei") == HashingFeaturizer().featurize("ja paguei")


def test_it_gives_misspellings_most_of_the_same_character_ngrams() -> None:
    featurizer = HashingFeaturizer()
    right, typo, other = (set(featurizer.featurize(t)) for t in ("paguei", "pagei", "boleto"))
    assert len(right & typo) > len(right) / 3
    assert not right & other


def test_it_splits_weight_between_word_and_character_blocks() -> None:
    featurizer = HashingFeaturizer(word_weight=0.3)
    ids, weights = featurizer.featurize_weighted("ja paguei ontem")
    assert len(ids) == len(weights)
    assert sum(weights) == pytest.approx(1.0)
    words = 3 + 4  # three unigrams and four bigrams (with sentence boundaries)
    assert sum(weights[:words]) == pytest.approx(0.3)


def test_it_marks_an_empty_message_explicitly() -> None:
    featurizer = HashingFeaturizer()
    assert featurizer.featurize_weighted("   ") == ([featurizer._bucket("<empty>")], [1.0])
    assert all(0 <= i < featurizer.num_buckets for i in featurizer.featurize("Bom dia! Tudo bem?"))
