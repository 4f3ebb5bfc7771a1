"""One HTTP transport for every vendor API (Telegram, SMSC, Twilio, push services).

`TRANSPORT` is a callable taking an `HttpRequest` and returning an `HttpResponse`; it raises
`NetworkError` when no HTTP answer came (DNS, refused, timeout, TLS). An HTTP error status is
an answer, not an exception: each vendor client reads the status and body itself. Tests
replace `TRANSPORT` with recorded answers from the vendors' documentation."""

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field

DEFAULT_TIMEOUT = 10.0


class NetworkError(Exception):
    """No HTTP answer: the request may or may not have reached the vendor."""


@dataclass
class HttpRequest:
    method: str
    url: str
    headers: dict = field(default_factory=dict)
    body: bytes | None = None
    timeout: float = DEFAULT_TIMEOUT

    def json(self):
        return json.loads((self.body or b"{}").decode("utf-8"))


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    headers: dict = field(default_factory=dict)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        """The decoded JSON body, or None when the body is not JSON (an HTML error page)."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


def urllib_transport(request: HttpRequest) -> HttpResponse:
    """Send the request with urllib; HTTP error statuses come back as responses."""
    req = urllib.request.Request(  # noqa: S310 (vendor URLs are fixed or checked on subscribe)
        request.url, data=request.body, headers=request.headers, method=request.method
    )
    try:
        with urllib.request.urlopen(req, timeout=request.timeout) as response:  # noqa: S310
            return HttpResponse(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as exc:
        body = exc.read() if exc.fp is not None else b""
        return HttpResponse(exc.code, body, dict(exc.headers or {}))
    except (OSError, ValueError) as exc:  # URLError, timeouts, TLS errors derive from OSError
        raise NetworkError(str(getattr(exc, "reason", exc)) or type(exc).__name__) from exc


# Tests replace this with a fake taking an HttpRequest.
TRANSPORT = urllib_transport


def send(request: HttpRequest) -> HttpResponse:
    return TRANSPORT(request)


def retry_after_seconds(response: HttpResponse, default: int | None = None) -> int | None:
    """The Retry-After header in seconds (HTTP-date forms fall back to `default`)."""
    value = response.header("Retry-After")
    if value and value.strip().isdigit():
        return int(value.strip())
    return default
