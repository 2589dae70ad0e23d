"""What kind of raster image some bytes are, read from their first bytes, never from a header.

A server's Content-Type is not believed: an icon is served again from our own origin
with the type found here, so only formats that cannot carry script are recognised.
SVG is not among them: it is XML that may hold <script> and event handlers.
"""

from __future__ import annotations

#: The types an icon may have, as served again.
RASTER_TYPES = ("image/png", "image/gif", "image/jpeg", "image/x-icon", "image/webp")


def sniff_image_type(body: bytes) -> str | None:
    """The image type of ``body`` (one of RASTER_TYPES), or None when it is none of them."""
    if body.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if body.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if body.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(body) >= 22 and body.startswith(b"\x00\x00\x01\x00") and body[4:6] != b"\x00\x00":
        # ICONDIR: reserved 0, type 1 (icon), then a non-zero image count.
        return "image/x-icon"
    if len(body) >= 12 and body.startswith(b"RIFF") and body[8:12] == b"WEBP":
        return "image/webp"
    return None
