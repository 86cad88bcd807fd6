"""``.env.example`` written from the settings themselves: every field of ``Settings``
(``ALGOTRADE_*``) and of the strategy workers' options (``ALGOTRADE_STRATEGY_*``), with its
default and the comments the source gives it. ``python -m algotrade.env_example`` writes the
file; a test fails when the committed one differs from what this renders.
"""

from __future__ import annotations

import ast
import inspect
import re
import sys
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Literal, get_args, get_origin

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from shared.config import Settings
from strategy_workers.options import WorkerOptions

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / ".env.example"

HEADER = """\
# Every setting of the platform, generated from shared/config.py and
# strategy_workers/options.py by `python -m algotrade.env_example` (do not edit by hand).
# Each is an environment variable, or a line of an .env file in the working directory.
# Values shown are the defaults; secrets are commented out: their development defaults
# are refused outside development, so set real ones (docs/operations.md).
"""


def _value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, list | tuple):
        return ",".join(_value(v) for v in value)
    if isinstance(value, Decimal | Path | int | float | str):
        return str(value)
    return str(value)


def _section(cls: type[BaseSettings]) -> list[str]:
    """The class's fields in source order, each with the comments above it, its inline
    comment, and the docstring below it."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    source = inspect.getsource(cls)
    lines = source.splitlines()
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    out: list[str] = []
    previous_end = 0
    statements = body.body
    for index, node in enumerate(statements):
        if not isinstance(node, ast.AnnAssign) or not isinstance(node.target, ast.Name):
            previous_end = node.end_lineno or node.lineno
            continue
        name = node.target.id
        if name not in cls.model_fields:
            previous_end = node.end_lineno or node.lineno
            continue
        for between in lines[previous_end : node.lineno - 1]:
            text = between.strip()
            if not text:
                if out and out[-1] != "":
                    out.append("")
            elif text.startswith("#"):
                out.append(text)
        previous_end = node.end_lineno or node.lineno
        last = lines[previous_end - 1]
        inline = last.split("  # ", 1)[1].strip() if "  # " in last else ""
        inline = "" if inline.startswith(("noqa", "type:")) else inline
        following = statements[index + 1] if index + 1 < len(statements) else None
        if isinstance(following, ast.Expr) and isinstance(following.value, ast.Constant):
            doc = str(following.value.value).strip()  # the field's docstring, above it here
            out += [f"# {part.strip()}" if part.strip() else "#" for part in doc.splitlines()]
            previous_end = following.end_lineno or following.lineno
        field = cls.model_fields[name]
        out.append(_line(prefix + name.upper(), field.default, inline or _choices(field)))
    while out and out[-1] == "":
        out.pop()
    return out


_SECRET_ENDINGS = ("_SECRET", "_PASSWORD", "_TOKEN", "_ENCRYPTION_KEYS")


def _line(variable: str, default: object, comment: str) -> str:
    if isinstance(default, SecretStr) or variable.endswith(_SECRET_ENDINGS):
        line = f"# {variable}="  # a secret: unset unless given
    elif default is None:
        line = f"# {variable}="  # unset (an empty value is not "none" for every type)
    else:
        line = f"{variable}={_value(default)}"
    return f"{line}  # {comment}" if comment else line


def _choices(field: FieldInfo) -> str:
    """``a | b | c`` for an enum or a ``^(a|b|c)$`` pattern; else nothing."""
    kind = field.annotation
    if isinstance(kind, type) and issubclass(kind, Enum):
        return " | ".join(str(m.value) for m in kind)
    for meta in field.metadata:
        pattern = getattr(meta, "pattern", None)
        found = re.fullmatch(r"\^\(([\w|]+)\)\$", pattern or "")
        if found:
            return " | ".join(found.group(1).split("|"))
    if get_origin(kind) is Literal:
        return " | ".join(str(a) for a in get_args(kind))
    return ""


def render() -> str:
    """The text of ``.env.example``."""
    parts = [HEADER, *_section(Settings), "", "# Strategy workers (Celery)"]
    parts += _section(WorkerOptions)
    return "\n".join(parts).rstrip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write ``.env.example`` (or PATH); ``--check``: exit 1 when it differs."""
    args = list(sys.argv[1:] if argv is None else argv)
    check = "--check" in args
    paths = [a for a in args if not a.startswith("--")]
    target = Path(paths[0]) if paths else TARGET
    text = render()
    if check:
        same = target.is_file() and target.read_text() == text
        if not same:
            print(f"{target} is out of date: run python -m algotrade.env_example", file=sys.stderr)
        return 0 if same else 1
    target.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
