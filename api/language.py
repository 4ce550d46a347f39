"""The API answers in the language of Accept-Language (docs/PROTOCOL.md, "Language").

LocaleMiddleware serves the pages: it prefers the language a browser chose on a screen (the
language cookie). The API does not: the same request gets the same language from every client,
a browser's choice included, so a screen that wants its own language says it in the header.
"""

from django.utils import translation

from dispatch.i18n import language_of

API_PREFIX = "/api/"


class ApiLanguageMiddleware:
    """Below LocaleMiddleware: for /api/ requests, activate the language Accept-Language asks for."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith(API_PREFIX):
            language = language_of(request.headers.get("Accept-Language"))
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
