class RussianByDefaultMiddleware:
    """The portal opens in its default language (Russian) whatever the browser asks for;
    English is a choice the user makes (the RU/EN switch sets the language cookie)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        return self.get_response(request)
