"""Deterministically compose train.jsonl and test.jsonl from the hand-written cores.

The cores are data: ``cores/train.jsonl`` and ``cores/test.jsonl``, one core a line as
``{"text": ..., "intent": ..., "group": ...}`` (see README.md beside this file). Within an intent the cores
keep their order in the file, so the built corpus depends only on the files and the seed.

Why compose instead of only hand-writing every line: real WhatsApp replies wrap the same request
in greetings, fillers, emojis, missing accents, abbreviations and typos. Decorating each hand-written
core a few ways teaches the model that these are noise, while the cores themselves carry the intent.
The test split uses its own cores AND its own greeting/filler pools and random seed, so decorations
seen in training do not leak into the evaluation.

Run: .venv/bin/python chatbot/data/build_corpus.py
"""

from __future__ import annotations

import json
import random
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from unidecode import unidecode

from chatbot.nlu.data import Example, write_jsonl
from chatbot.nlu.labels import INTENTS
from chatbot.nlu.normalize import normalize

DATA_DIR = Path(__file__).resolve().parent
CORES_DIR = DATA_DIR / "cores"
TRAIN_CORES_PATH = CORES_DIR / "train.jsonl"
TEST_CORES_PATH = CORES_DIR / "test.jsonl"


class CoreFileError(ValueError):
    """A line of a cores file is unusable; the message names the file, the line and why."""


@dataclass(frozen=True)
class Core:
    text: str
    intent: str
    group: str


def read_cores(path: str | Path) -> list[Core]:
    """Every core of a cores file, in file order. Fails on the first bad line, naming it."""
    cores: list[Core] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CoreFileError(f"{where}: not a JSON object ({exc.msg})") from None
            if not isinstance(row, dict):
                raise CoreFileError(f"{where}: not a JSON object")
            unknown = sorted(set(row) - {"text", "intent", "group"})
            if unknown:
                raise CoreFileError(f"{where}: unknown field(s) {unknown}")
            text, intent, group = row.get("text"), row.get("intent"), row.get("group")
            if not isinstance(text, str) or not text.strip():
                raise CoreFileError(f"{where}: field 'text' is missing or empty")
            if intent not in INTENTS:
                raise CoreFileError(
                    f"{where}: unknown intent {intent!r} (expected one of {', '.join(INTENTS)})"
                )
            if not isinstance(group, str) or not group.strip():
                raise CoreFileError(f"{where}: field 'group' is missing or empty")
            cores.append(Core(text=text, intent=intent, group=group))
    return cores


def cores_by_intent(path: str | Path) -> dict[str, list[str]]:
    """{intent: [core text, ...]} for every intent, cores in file order."""
    grouped: dict[str, list[str]] = {intent: [] for intent in INTENTS}
    for core in read_cores(path):
        grouped[core.intent].append(core.text)
    return grouped


def training_cores() -> dict[str, list[str]]:
    return cores_by_intent(TRAIN_CORES_PATH)


def held_out_cores() -> dict[str, list[str]]:
    return cores_by_intent(TEST_CORES_PATH)


# Intents whose cores already are a greeting or a closing: wrapping them in more of the same, or
# in "obrigado", would blur the very cue that defines them.
_NO_SUFFIX = {"saudacao", "desconhecido"}

# Closings are decorated with other closings only ("ok" + "obrigado" + "👍").
CLOSING_POOLS: dict[str, dict[str, list[str]]] = {
    "train": {
        "prefix": ["ok", "ah tá", "certo", "entendi", "sim", "ah sim", "hmm ok", "tá"],
        "suffix": ["👍", "🙏", "😊", "tchau", "bom dia", "boa noite", "bjs", "abraço", "!!", "viu", "moça"],
    },
    "test": {
        "prefix": ["beleza", "ahh", "uhum", "perfeito", "ta bom"],
        "suffix": ["👋", "🤝", "boa tarde", "abs", "amigo", "😉", "!!!", "até mais"],
    },
}

POOLS: dict[str, dict[str, list[str]]] = {
    "train": {
        "prefix": [
            "bom dia",
            "boa tarde",
            "boa noite",
            "oi",
            "olá",
            "oi bom dia",
            "opa",
            "oie",
            "moça",
            "senhor",
            "então",
            "olha",
            "amigo",
            "oi tudo bem?",
            "bom dia, tudo bem?",
            "boa tarde moço",
            "oi, recebi a mensagem",
            "ola boa tarde",
            "bom dia querida",
            "oi td bem",
            "ei",
            "escuta",
            "oi dona",
            "oi seu",
            "ei moço",
            "oi, vi aqui",
            "olá, bom dia",
            "opa, tudo certo?",
            "e aí",
            "bom dia senhora",
            "oi boa noite",
            "olha só",
            "oi, tudo bom?",
            "boa tarde, tudo certo?",
            # Replies that acknowledge the reminder before answering ("oi, li sua mensagem. ...").
            "oi, li sua mensagem",
            "recebi seu recado",
            "oi, vi o recado",
            "boa tarde, recebi a cobrança",
            "oi moça, sobre a mensagem",
            "sobre a cobrança",
            "oi, então",
            "bom dia! olha",
            "oi, respondendo",
            "boa noite, desculpa a demora",
            "oi, só agora vi",
            "olá senhor",
        ],
        "suffix": [
            "obrigado",
            "atenciosamente",
            "fico no aguardo",
            "desde já obrigado",
            "até logo",
            "por favor",
            "ok?",
            "blz?",
            "viu",
            "👍",
            "🙏",
            "pfv",
            "tá?",
            "entendeu",
            "😊",
            "valeu",
            "abraço",
            "obg",
            "tá bom?",
            "😔",
            "!!",
        ],
    },
    "test": {
        "prefix": [
            "boa tardee",
            "oii",
            "olá, boa noite",
            "e aí",
            "bom diaa moço",
            "oi dona",
            "ei",
            "ô moça",
            "escuta",
            "oi, vi sua msg",
            "boa noite senhora",
            "opa boa tarde",
            "oi querida",
            "bom dia, td certo?",
        ],
        "suffix": [
            "grato",
            "🙏🙏",
            "tá bom?",
            "😅",
            "abs",
            "beleza?",
            "tenha um bom dia",
            "brigado",
            "pode ser?",
            "certo?",
            "😕",
            "!!!",
        ],
    },
}

_ABBREVIATIONS = [
    ("você", "vc"),
    ("voce", "vc"),
    ("vocês", "vcs"),
    ("porque", "pq"),
    (" que ", " q "),
    ("também", "tb"),
    ("mensagem", "msg"),
    ("hoje", "hj"),
    ("muito", "mto"),
    ("por favor", "pfv"),
    ("obrigado", "obg"),
    ("beleza", "blz"),
    ("valeu", "vlw"),
    ("tudo", "td"),
    ("para ", "pra "),
    ("não", "n"),
    ("quando", "qdo"),
    ("depois", "dps"),
    ("amanhã", "amn"),
    ("estou", "tô"),
    ("está", "tá"),
    ("número", "nº"),
]


def _typo(word: str, rng: random.Random) -> str:
    """One keyboard slip: swap two neighbours, drop a letter or double one."""
    if len(word) < 5 or not word.isalpha():
        return word
    i = rng.randrange(1, len(word) - 2)
    kind = rng.random()
    if kind < 0.4:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind < 0.75:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _stretch(word: str, rng: random.Random) -> str:
    """WhatsApp emphasis: "siiim", "obrigadaaa"."""
    vowels = [i for i, ch in enumerate(word) if ch in "aeiou"]
    if not vowels:
        return word
    i = vowels[-1]
    return word[:i] + word[i] * rng.randint(3, 5) + word[i + 1 :]


def add_noise(text: str, rng: random.Random, strength: float) -> str:
    """Make a core look typed in a hurry; ``strength`` in [0, 1] scales every kind of noise."""
    if rng.random() < 0.45 + 0.4 * strength:
        text = (
            unidecode(text) if not any(ord(ch) > 0x2000 for ch in text) else _strip_accents_keep_emoji(text)
        )
    if rng.random() < 0.5 * strength:
        padded = f" {text} "
        for long, short in _ABBREVIATIONS:
            if long in padded and rng.random() < 0.6:
                padded = padded.replace(long, short)
        text = padded.strip()
    words = text.split(" ")
    if len(words) > 2 and rng.random() < 0.35 * strength:
        pos = rng.randrange(len(words))
        words[pos] = _typo(words[pos], rng)
    if rng.random() < 0.15 * strength:
        pos = rng.randrange(len(words))
        words[pos] = _stretch(words[pos], rng)
    text = " ".join(words)
    roll = rng.random()
    if roll < 0.55:
        text = text.lower()
    elif roll < 0.6:
        text = text.upper()
    elif roll < 0.85:
        text = text[:1].upper() + text[1:]
    if rng.random() < 0.35 * strength:
        text = text.rstrip("?!.,")
    return text


def _strip_accents_keep_emoji(text: str) -> str:
    return "".join(ch if ord(ch) > 0x2000 else unidecode(ch) for ch in text)


def _decorate(core: str, intent: str, variant: int, split: str, rng: random.Random) -> str:
    pools = POOLS[split]
    text = core
    if variant == 0:
        return add_noise(text, rng, 0.3)
    if intent == "agradecimento":
        pools = CLOSING_POOLS[split]
    use_prefix = variant % 2 == 1 or rng.random() < 0.3
    if intent == "desconhecido" and len(core.split()) < 3:
        use_prefix = False
    if use_prefix:
        prefix = rng.choice(pools["prefix"])
        separator = " " if prefix.endswith("?") else rng.choice([", ", " ", "! ", ". ", "\n"])
        text = f"{prefix}{separator}{text[:1].lower()}{text[1:]}"
    if intent not in _NO_SUFFIX and (variant % 2 == 0 or rng.random() < 0.3):
        text = f"{text.rstrip('.')}{rng.choice([' ', ', ', ' '])}{rng.choice(pools['suffix'])}"
    return add_noise(text, rng, 0.6 + 0.2 * (variant > 1))


def build_split(
    cores: dict[str, list[str]], split: str, variants: int, seed: int, groups: list[str] | None = None
) -> list[Example]:
    """Every core once lightly noised plus ``variants - 1`` decorated copies, deduplicated when normalised.

    Closings get one copy fewer: they have many more (short) cores than the other intents.
    """
    rng = random.Random(seed)
    examples: list[Example] = []
    cores_of: list[str] = []
    seen: set[str] = set()
    for intent in INTENTS:
        for core in cores[intent]:
            for variant in range(variants - (intent == "agradecimento")):
                text = _decorate(core, intent, variant, split, rng)
                key = normalize(text)
                if not text.strip() or key in seen:
                    continue
                seen.add(key)
                examples.append(Example(text=text, intent=intent))
                cores_of.append(core)
    order = list(range(len(examples)))
    rng.shuffle(order)
    if groups is not None:
        # The core each example came from, for group-aware cross-validation in bench/.
        groups.extend(cores_of[i] for i in order)
    return [examples[i] for i in order]


def check_cores_disjoint(
    train_split: dict[str, list[str]] | None = None, test_split: dict[str, list[str]] | None = None
) -> None:
    """Fail if a test core is, after normalisation, also a training core (that would leak the answer)."""
    train_split = training_cores() if train_split is None else train_split
    test_split = held_out_cores() if test_split is None else test_split
    train = {normalize(core) for cores in train_split.values() for core in cores}
    leaked = sorted(core for cores in test_split.values() for core in cores if normalize(core) in train)
    if leaked:
        raise SystemExit(f"test cores also present in training cores: {leaked}")


def check_labels_agree(split: dict[str, list[str]], name: str) -> None:
    """Fail if one core (after normalisation) is filed under two intents of the same split."""
    seen: dict[str, str] = {}
    clashes: list[str] = []
    for intent, cores in split.items():
        for core in cores:
            other = seen.setdefault(normalize(core), intent)
            if other != intent:
                clashes.append(f"{core!r} ({other} and {intent})")
    if clashes:
        raise SystemExit(f"{name} cores filed under two intents: {', '.join(clashes)}")


def build(seed: int = 2024) -> tuple[list[Example], list[Example]]:
    train_split, test_split = training_cores(), held_out_cores()
    check_labels_agree(train_split, "training")
    check_labels_agree(test_split, "held-out")
    check_cores_disjoint(train_split, test_split)
    train = build_split(train_split, "train", variants=3, seed=seed)
    test = build_split(test_split, "test", variants=2, seed=seed + 1)
    train_keys = {normalize(example.text) for example in train}
    test = [example for example in test if normalize(example.text) not in train_keys]
    return train, test


def main() -> None:
    try:
        train, test = build()
    except (CoreFileError, OSError) as exc:
        raise SystemExit(f"build_corpus: {exc}") from None
    write_jsonl(DATA_DIR / "train.jsonl", train)
    write_jsonl(DATA_DIR / "test.jsonl", test)
    for name, split in (("train", train), ("test", test)):
        counts = Counter(example.intent for example in split)
        print(name, len(split), dict(sorted(counts.items())))


if __name__ == "__main__":
    main()
