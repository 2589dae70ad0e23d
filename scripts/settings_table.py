"""README's configuration table, generated from the declarations in app/config.py.

    python -m scripts.settings_table           # print the table
    python -m scripts.settings_table --write   # put it into README.md between its markers

tests/test_config.py fails when README.md holds anything else.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import Field
from pathlib import Path

from app.config import Var, declared, default_of
from scripts.markers import replace_between

README = Path(__file__).resolve().parent.parent / "README.md"
BEGIN = "<!-- settings table: generated from app/config.py by python -m scripts.settings_table -->"
END = "<!-- end of settings table -->"


def shown_default(f: Field[object], var: Var) -> str:
    """How the table shows a setting's default."""
    if var.shown_default:
        return var.shown_default
    if var.required:
        return "(required)"
    value = default_of(f)
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, frozenset):
        return ", ".join(f"`{v}`" for v in sorted(value)) or "empty"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"`{value}`"


def table() -> str:
    """The Markdown table: one row per setting, in declaration order."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    rows += [f"| `{var.env}` | {shown_default(f, var)} | {var.doc} |" for f, var in declared()]
    return "\n".join(rows)


def with_table(readme: str) -> str:
    """``readme`` with the text between the markers replaced by :func:`table`."""
    return replace_between(readme, BEGIN, END, table(), "README.md")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    args = parser.parse_args(argv)
    if args.write:
        README.write_text(with_table(README.read_text()))
    else:
        print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
