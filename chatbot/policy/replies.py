"""The bot's reply catalogue: every sentence the assistant says lives in chatbot/replies.toml (pt-BR, editable
by a non-programmer, versioned), rendered here with the values of one turn.

`reply(key, **values)` renders `[respostas].key`, `phrase(key, **values)` renders `[frases].key`. Both are
strict: an unknown key, a placeholder without a value, an empty value, or a value for a variable the
catalogue does not declare in `[variaveis]` raises `ReplyCatalogueError` — an empty slot never reaches a
debtor. The file is read once per process and checked as a whole on first use (every placeholder declared)."""

from __future__ import annotations

import string
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

CATALOGUE_PATH = Path(__file__).resolve().parent.parent / "replies.toml"

__all__ = ["CATALOGUE_PATH", "Catalogue", "ReplyCatalogueError", "catalogue", "phrase", "reply"]


class ReplyCatalogueError(ValueError):
    """The catalogue file is malformed, or a reply was rendered without one of its values."""


@dataclass(frozen=True)
class Catalogue:
    version: int
    variables: dict[str, str]
    phrases: dict[str, str]
    replies: dict[str, str]

    def template(self, section: str, key: str) -> str:
        table = self.replies if section == "respostas" else self.phrases
        try:
            return table[key]
        except KeyError:
            raise ReplyCatalogueError(f"{CATALOGUE_PATH.name}: [{section}] não tem a chave {key!r}") from None

    def render(self, section: str, key: str, values: dict[str, Any]) -> str:
        template = self.template(section, key)
        needed = placeholders(template)
        for name in needed:
            value = values.get(name)
            if value is None or not str(value).strip():
                raise ReplyCatalogueError(f"[{section}].{key}: a variável {{{name}}} ficou vazia")
        unknown = set(values) - set(self.variables)
        if unknown:
            raise ReplyCatalogueError(f"[{section}].{key}: variáveis não declaradas {sorted(unknown)}")
        return template.format_map({name: str(values[name]) for name in needed})


def placeholders(template: str) -> list[str]:
    """The {names} a template uses, in order (a "{{" is a literal brace, not a slot)."""
    return [field for _text, field, _spec, _conv in string.Formatter().parse(template) if field is not None]


def load(path: Path = CATALOGUE_PATH) -> Catalogue:
    """Read and check a catalogue file: sections present, texts are strings, every placeholder declared."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ReplyCatalogueError(f"{path.name}: {exc}") from exc
    sections = {}
    for section in ("variaveis", "frases", "respostas"):
        table = data.get(section)
        if not isinstance(table, dict) or not table:
            raise ReplyCatalogueError(f"{path.name}: falta a seção [{section}]")
        for key, text in table.items():
            if not isinstance(text, str) or not text.strip():
                raise ReplyCatalogueError(f"{path.name}: [{section}].{key} deve ser um texto não vazio")
        sections[section] = table
    declared = set(sections["variaveis"])
    for section in ("frases", "respostas"):
        for key, text in sections[section].items():
            try:
                used = placeholders(text)
            except ValueError as exc:
                raise ReplyCatalogueError(f"{path.name}: [{section}].{key}: {exc}") from exc
            if missing := [name for name in used if name not in declared]:
                raise ReplyCatalogueError(
                    f"{path.name}: [{section}].{key} usa {missing}, que não estão em [variaveis]"
                )
    version = data.get("versao")
    if not isinstance(version, int):
        raise ReplyCatalogueError(f"{path.name}: falta 'versao' (um número inteiro)")
    return Catalogue(
        version=version,
        variables=dict(sections["variaveis"]),
        phrases=dict(sections["frases"]),
        replies=dict(sections["respostas"]),
    )


@lru_cache(maxsize=1)
def catalogue() -> Catalogue:
    return load()


def reply(key: str, **values: Any) -> str:
    return catalogue().render("respostas", key, values)


def phrase(key: str, **values: Any) -> str:
    return catalogue().render("frases", key, values)
