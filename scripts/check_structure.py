"""Size rules the build enforces (run by `make lint` and by cobranca/tests/test_architecture.py).

1. No module over MAX_MODULE_LINES lines, outside migrations and tests.
2. No function over MAX_FUNCTION_LINES lines unless a `# long-function: <why>` comment on the line(s) just
   above it (above its decorators) or inside it says why it is better left whole.

The modules and functions that broke a rule when it was introduced are listed in KNOWN_LONG_MODULES and
KNOWN_LONG_FUNCTIONS with their size then. The lists only shrink: a listed module or function may not grow,
and one that now keeps the rule must be taken off its list (the check says so), so nothing new breaks it.

Stdlib only, so it runs before the project is installed: `python scripts/check_structure.py`.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 60
SKIP_DIRS = {".git", ".venv", "node_modules", "staticfiles", "static", "var", "logs", "migrations", "tests"}
WHY = re.compile(r"#\s*long-function:\s*\S")

# Known at the rule's introduction: path → lines then. Only shrinks.
KNOWN_LONG_MODULES: dict[str, int] = {}

# Known at the rule's introduction: "path::qualified.name" → lines then. Only shrinks.
KNOWN_LONG_FUNCTIONS: dict[str, int] = {}


@dataclass(frozen=True)
class Finding:
    key: str  # "path" or "path::qualname"
    lines: int
    limit: int

    def __str__(self) -> str:
        return f"{self.key}: {self.lines} lines (limit {self.limit})"


def python_modules(root: Path = ROOT) -> list[Path]:
    """Every .py file of the project that the rules apply to (not migrations, not tests)."""
    found = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if set(rel.parts[:-1]) & SKIP_DIRS:
            continue
        if path.name.startswith("test_") or path.name == "conftest.py":
            continue
        found.append(path)
    return sorted(found)


def _functions(tree: ast.AST, prefix: str = ""):
    """(qualified name, node) of every function and method, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{node.name}"
            yield name, node
            yield from _functions(node, f"{name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def _says_why(lines: list[str], node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    above = first - 2  # 0-based index of the line just above the def or its first decorator
    while above >= 0 and lines[above].strip().startswith("#"):
        if WHY.search(lines[above]):
            return True
        above -= 1
    return any(WHY.search(line) for line in lines[node.lineno - 1 : node.end_lineno])


def measure(source: str, rel: str) -> tuple[Finding | None, list[Finding]]:
    """The module finding (if it is too long) and the too-long functions without a why, of one file."""
    lines = source.splitlines()
    module = Finding(rel, len(lines), MAX_MODULE_LINES) if len(lines) > MAX_MODULE_LINES else None
    functions = []
    for name, node in _functions(ast.parse(source)):
        length = node.end_lineno - node.lineno + 1
        if length > MAX_FUNCTION_LINES and not _says_why(lines, node):
            functions.append(Finding(f"{rel}::{name}", length, MAX_FUNCTION_LINES))
    return module, functions


def check(
    root: Path = ROOT,
    known_modules: dict[str, int] | None = None,
    known_functions: dict[str, int] | None = None,
) -> tuple[list[str], list[Finding]]:
    """(errors, findings still tolerated because they are listed as known)."""
    known_modules = KNOWN_LONG_MODULES if known_modules is None else known_modules
    known_functions = KNOWN_LONG_FUNCTIONS if known_functions is None else known_functions
    errors: list[str] = []
    tolerated: list[Finding] = []
    seen: set[str] = set()
    for path in python_modules(root):
        rel = path.relative_to(root).as_posix()
        module, functions = measure(path.read_text(encoding="utf-8"), rel)
        for finding, known in [(module, known_modules), *((f, known_functions) for f in functions)]:
            if finding is None:
                continue
            seen.add(finding.key)
            if finding.key not in known:
                errors.append(f"{finding} — split it" + ("" if "::" not in finding.key else " or say why"))
            elif finding.lines > known[finding.key]:
                errors.append(f"{finding} — grew from {known[finding.key]}: it may only shrink")
            else:
                tolerated.append(finding)
    for key in sorted((set(known_modules) | set(known_functions)) - seen):
        errors.append(f"{key} keeps the rule now: take it off the known list in scripts/check_structure.py")
    return errors, tolerated


def _entries(known: dict[str, int]) -> str:
    return "".join(f'    "{key}": {lines},\n' for key, lines in sorted(known.items()))


def baseline(root: Path = ROOT) -> str:
    """Both known lists as they would be today (to introduce the rule; never to hide a new violation)."""
    modules, functions = {}, {}
    for path in python_modules(root):
        rel = path.relative_to(root).as_posix()
        module, long_functions = measure(path.read_text(encoding="utf-8"), rel)
        if module:
            modules[module.key] = module.lines
        functions.update({f.key: f.lines for f in long_functions})
    return (
        f"KNOWN_LONG_MODULES = {{\n{_entries(modules)}}}\n\n"
        f"KNOWN_LONG_FUNCTIONS = {{\n{_entries(functions)}}}\n"
    )


def main() -> int:
    if sys.argv[1:] == ["--baseline"]:
        print(baseline())
        return 0
    errors, tolerated = check()
    for finding in tolerated:
        print(f"known: {finding}")
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
