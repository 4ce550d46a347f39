"""The language of an answer: the client's Accept-Language, else the command center's own (LANGUAGE_CODE, zh-hans)."""

from django.conf import settings
from django.utils.translation import get_supported_language_variant
from django.utils.translation.trans_real import parse_accept_lang_header


def language_of(accept_language: str | None) -> str:
    """Return the first supported language an Accept-Language value asks for, else settings.LANGUAGE_CODE."""
    for code, _quality in parse_accept_lang_header(accept_language or ""):
        if code == "*":
            break
        try:
            return get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE
