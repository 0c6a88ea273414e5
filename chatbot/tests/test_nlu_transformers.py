"""The optional transformers backend, exercised with a tiny BERT built from a config (nothing downloaded)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from chatbot.classification import configured_classifier
from chatbot.nlu.classifier import clear_classifier_cache, load_classifier
from chatbot.nlu.data import Example
from chatbot.nlu.transformers_backend import TransformersIntentClassifier, train_transformers_model

LABELS = ["confirmacao_pagamento", "promessa_pagamento", "desconhecido"]
WORDS = "ja paguei vou pagar sexta amanha pago ontem pix oi kkk ? ,".split()


def _tiny_bert(directory: Path) -> Path:
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, "##s", "##ei"]
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    # from_pretrained reads vocab.txt; in transformers 5 the vocab_file= constructor argument is ignored.
    tokenizer = BertTokenizerFast.from_pretrained(directory, do_lower_case=True)
    assert tokenizer.convert_tokens_to_ids("paguei") == vocab.index("paguei")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=len(LABELS),
        id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)},
    )
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture()
def tiny_bert(tmp_path: Path) -> Path:
    return _tiny_bert(tmp_path / "base")


def test_it_loads_a_local_model_and_predicts_over_its_labels(tiny_bert: Path) -> None:
    classifier = TransformersIntentClassifier(
        tiny_bert, device="cpu", max_length=16, threshold=0.0, margin=0.0
    )
    prediction = classifier.predict("ja paguei ontem")
    assert classifier.labels == LABELS
    assert prediction.intent in LABELS
    assert sum(prediction.scores.values()) == pytest.approx(1.0, abs=1e-5)


def test_fine_tuning_learns_a_toy_task_and_saves_a_loadable_model(tiny_bert: Path, tmp_path: Path) -> None:
    examples = [
        Example("ja paguei", "confirmacao_pagamento"),
        Example("paguei ontem", "confirmacao_pagamento"),
        Example("vou pagar sexta", "promessa_pagamento"),
        Example("pago amanha", "promessa_pagamento"),
        Example("kkk", "desconhecido"),
        Example("?", "desconhecido"),
    ]
    output = tmp_path / "tuned"
    seconds = train_transformers_model(
        examples, tiny_bert, output, LABELS, epochs=60, seed=3, lr=1e-3, batch_size=6, device="cpu"
    )
    assert seconds > 0
    assert (output / "config.json").exists()
    tuned = TransformersIntentClassifier(output, device="cpu", threshold=0.0, margin=0.0)
    assert [tuned.predict(e.text).intent for e in examples] == [e.intent for e in examples]


def test_load_classifier_switches_backend_by_setting(tiny_bert: Path, settings) -> None:
    settings.CHATBOT_BACKEND = "transformers"
    settings.CHATBOT_MODEL_PATH = str(tiny_bert)
    settings.MODEL_DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
    clear_classifier_cache()
    try:
        classifier = configured_classifier()
        assert isinstance(classifier, TransformersIntentClassifier)
        assert classifier.predict("oi").raw_intent in LABELS
    finally:
        clear_classifier_cache()


def test_the_transformers_backend_requires_a_model_path(settings) -> None:
    settings.CHATBOT_BACKEND = "transformers"
    settings.CHATBOT_MODEL_PATH = ""
    with pytest.raises(ValueError, match="CHATBOT_MODEL_PATH"):
        configured_classifier()
    with pytest.raises(ValueError, match="CHATBOT_MODEL_PATH"):
        load_classifier(backend="transformers")
