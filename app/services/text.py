"""Checks on text from people before it reaches Postgres."""

from __future__ import annotations


def storable(value: str) -> bool:
    """Whether Postgres can store the text: no NUL character, no lone surrogate (JSON
    bodies may carry either; Postgres text refuses both)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
