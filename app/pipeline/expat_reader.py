"""The SAX driver feedparser parses with: expat, with its text buffered.

Without buffering, expat reports character data in pieces, one at every entity or
character reference, and feedparser handles each piece with a Python call: a feed whose
descriptions are escaped HTML ("&lt;p&gt;...") costs a call for every tag in them.
Buffered, a run of text (up to expat's 8 KiB buffer) is one call. feedparser joins the
pieces anyway, so the result is the same (tests/pipeline/test_parse_formats.py compares
both); a feed of escaped HTML parses four to five times faster.

feedparser asks xml.sax for libxml2's driver first; its Python bindings are not
installed, and each failed import took Python's import lock, which queued the threads of
a worker. Naming this module skips that.
"""

from __future__ import annotations

from typing import Any
from xml.sax.expatreader import ExpatParser


class BufferedExpatParser(ExpatParser):
    """xml.sax's expat driver with `buffer_text` on."""

    def reset(self) -> None:
        """Create the expat parser, as the base class does, and buffer its text."""
        super().reset()
        self._parser.buffer_text = True  # type: ignore[attr-defined]


def create_parser(*args: Any, **kwargs: Any) -> BufferedExpatParser:
    """The factory xml.sax.make_parser looks for in a driver module."""
    return BufferedExpatParser(*args, **kwargs)
