"""QR codes for the card, the invitation and the till poster (segno: pure Python, no
imaging library)."""

import io

import segno
from django.utils.safestring import mark_safe


def qr_svg(data: str, *, scale: int = 6, dark: str = "#000") -> str:
    """An inline <svg> element (safe to put in a template: segno builds it from the data's
    bits, never from the text itself)."""
    return mark_safe(
        segno.make(data, error="m", micro=False).svg_inline(
            scale=scale, dark=dark, border=2, omitsize=False
        )
    )


def qr_png(data: str, *, scale: int = 20) -> bytes:
    out = io.BytesIO()
    segno.make(data, error="m", micro=False).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


def qr_pdf(data: str, *, scale: int = 12) -> bytes:
    out = io.BytesIO()
    segno.make(data, error="m", micro=False).save(out, kind="pdf", scale=scale, border=4)
    return out.getvalue()
