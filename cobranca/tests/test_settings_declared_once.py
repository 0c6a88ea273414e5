"""Every setting is declared once, in cobranca/settings.py, from the environment, and read as ``settings.X``.

These scans read the source (AST), so a `getattr(settings, "X", default)` that would silently keep a second
default far from settings.py, a setting read but defined nowhere, or a variable read but missing from
.env.example fails the build.
"""

from __future__ import annotations

import ast
from pathlib import Path

from django.conf import settings as django_settings

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_FILE = ROOT / "cobranca" / "settings.py"
SKIP_DIRS = {".venv", "node_modules", "static", "staticfiles", "var", ".git", "logs"}
ENV_READERS = {"env_str", "env_bool", "env_int", "env_float", "env_choice", "env_list", "env_url"}


def _project_files(*, include_tests: bool = True) -> list[Path]:
    files = []
    for path in ROOT.rglob("*.py"):
        parts = set(path.relative_to(ROOT).parts)
        if parts & SKIP_DIRS:
            continue
        is_test = "tests" in parts or path.name.startswith("test_") or path.name == "conftest.py"
        if is_test and not include_tests:
            continue
        files.append(path)
    return sorted(files)


def _is_settings(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "settings") or (
        isinstance(node, ast.Attribute) and node.attr == "settings"
    )


def getattr_with_default(source: str) -> list[int]:
    """Lines where `getattr(settings, ..., default)` reads a setting with a default of its own."""
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) == 3
        and _is_settings(node.args[0])
    ]


def env_reads(source: str) -> set[str]:
    """Names of the environment variables a module reads (env_* readers, os.environ[...], .get, getenv)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = getattr(func, "id", None) or getattr(func, "attr", "")
            on_environ = isinstance(func, ast.Attribute) and ast.unparse(func.value) == "os.environ"
            if called in ENV_READERS | {"getenv"} or (on_environ and called in {"get", "setdefault"}):
                names.add(node.args[0].value)
        elif (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) == "os.environ"
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
    return names


def _documented() -> set[str]:
    names = set()
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and "=" in line:
            names.add(line.partition("=")[0].strip())
    return names


def test_the_scanner_finds_a_getattr_with_a_default():
    source = (
        "from django.conf import settings\n"
        "a = getattr(settings, 'X', 1)\n"
        "b = settings.X\n"
        "c = getattr(settings, 'X')\n"
        "d = getattr(django.conf.settings, 'Y', None)\n"
    )
    assert getattr_with_default(source) == [2, 5]


def test_the_scanner_finds_every_kind_of_environment_read():
    source = (
        "import os\n"
        "A = env_int('A', 1)\n"
        "B = os.environ.get('B')\n"
        "C = os.environ['C']\n"
        "D = os.getenv('D', '')\n"
        "E = settings.get('E')\n"
    )
    assert env_reads(source) == {"A", "B", "C", "D"}


def test_no_setting_is_read_with_a_default_outside_settings_py():
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in _project_files()
        if path != SETTINGS_FILE
        for line in getattr_with_default(path.read_text(encoding="utf-8"))
    ]
    assert offenders == [], "declare the setting in cobranca/settings.py and read settings.X: " + ", ".join(
        offenders
    )


def test_every_setting_the_code_reads_is_declared():
    missing = set()
    for path in _project_files(include_tests=False):
        if path == SETTINGS_FILE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports_settings = any(
            isinstance(node, ast.ImportFrom)
            and node.module == "django.conf"
            and any(alias.name == "settings" for alias in node.names)
            for node in ast.walk(tree)
        )
        if not imports_settings:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "settings"
                and isinstance(node.ctx, ast.Load)
                and node.attr.isupper()
                and not hasattr(django_settings, node.attr)
            ):
                missing.add(f"{path.relative_to(ROOT)}: settings.{node.attr}")
    assert missing == set()


def test_env_example_documents_every_variable_the_settings_read():
    read = env_reads(SETTINGS_FILE.read_text(encoding="utf-8"))
    documented = _documented()
    assert read - documented == set(), "add these to .env.example"
    assert documented - read == set(), ".env.example lists variables the settings never read"
