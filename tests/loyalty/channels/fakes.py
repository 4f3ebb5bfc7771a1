"""A recorded-answer transport for the vendor APIs and the vendors' documented answers."""

import json
import urllib.parse

from loyalty.channels import http


class FakeTransport:
    """Answers requests with queued responses (an HttpResponse, or an exception to raise)
    and keeps every request for the test to inspect."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[http.HttpRequest] = []

    def queue(self, *answers):
        self.answers.extend(answers)

    def __call__(self, request: http.HttpRequest) -> http.HttpResponse:
        self.requests.append(request)
        if not self.answers:
            raise AssertionError(f"unexpected request to {request.url}")
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    @property
    def last(self) -> http.HttpRequest:
        return self.requests[-1]

    def form(self, index: int = -1) -> dict:
        return dict(urllib.parse.parse_qsl(self.requests[index].body.decode("utf-8")))


def answer(status: int, body, headers: dict | None = None) -> http.HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
    return http.HttpResponse(status, raw, headers or {"Content-Type": "application/json"})


# Telegram Bot API (core.telegram.org/bots/api: "Making requests", ResponseParameters).
def tg_ok(message_id: int = 42, chat_id: int = 111):
    return answer(
        200,
        {
            "ok": True,
            "result": {
                "message_id": message_id,
                "from": {
                    "id": 7000001,
                    "is_bot": True,
                    "first_name": "Shop",
                    "username": "shop_bot",
                },
                "chat": {"id": chat_id, "first_name": "Anna", "type": "private"},
                "date": 1732881600,
                "text": "…",
            },
        },
    )


TG_UNAUTHORIZED = answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
TG_BLOCKED = answer(
    403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}
)
TG_TOO_MANY = answer(
    429,
    {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 7",
        "parameters": {"retry_after": 7},
    },
)
TG_BAD_GATEWAY = answer(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", {})
TG_TRUE = answer(200, {"ok": True, "result": True, "description": "Webhook was set"})
TG_GET_ME = answer(
    200,
    {
        "ok": True,
        "result": {"id": 7000001, "is_bot": True, "first_name": "Shop", "username": "shop_bot"},
    },
)

# SMSC HTTP API, send.php with fmt=3 (smsc.ru/api/http/send/sms/sms_answer/).
SMSC_OK = answer(200, {"id": 204, "cnt": 1})
SMSC_AUTH = answer(200, {"error": "authorise error", "error_code": 2})
SMSC_DUPLICATE = answer(200, {"error": "duplicate request, wait a minute", "error_code": 9})
SMSC_BAD_NUMBER = answer(200, {"error": "invalid number", "error_code": 7, "id": 205})

# Twilio Messages API (twilio.com/docs/messaging/api/message-resource, /docs/usage/twilios-response).
TWILIO_CREATED = answer(
    201,
    {
        "sid": "SM1f0e8ae6ade43cb3c0ce4525424e404f",
        "status": "queued",
        "to": "+79130000001",
        "body": "…",
        "error_code": None,
    },
)
TWILIO_AUTH = answer(
    401,
    {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    },
)
TWILIO_TOO_MANY = answer(
    429,
    {
        "code": 20429,
        "message": "Too Many Requests",
        "more_info": "https://www.twilio.com/docs/errors/20429",
        "status": 429,
    },
    {"Content-Type": "application/json", "Retry-After": "30"},
)
TWILIO_UNSUBSCRIBED = answer(
    400,
    {
        "code": 21610,
        "message": "Attempt to send to unsubscribed recipient",
        "more_info": "https://www.twilio.com/docs/errors/21610",
        "status": 400,
    },
)

# Push services (RFC 8030 §5, §7.3; RFC 8292).
PUSH_CREATED = answer(201, b"", {"Location": "https://fcm.googleapis.com/fcm/send/abc/msg1"})
PUSH_GONE = answer(410, b"push subscription has unsubscribed or expired.", {})
PUSH_NOT_FOUND = answer(404, b"Not Found", {})
PUSH_TOO_MANY = answer(429, b"Too Many Requests", {"Retry-After": "120"})


class SmsGatewayFake:
    """An SMSC gateway that accepts every message (the documented success answer) and keeps
    what it was asked to send: the card tests read one-time codes the way a client's phone
    would, from the SMS text."""

    def __init__(self):
        self.requests: list[http.HttpRequest] = []

    def __call__(self, request: http.HttpRequest) -> http.HttpResponse:
        if "/sys/send.php" not in request.url:
            raise AssertionError(f"unexpected request to {request.url}")
        self.requests.append(request)
        return answer(200, {"id": len(self.requests), "cnt": 1})

    def texts(self, phone: str) -> list[str]:
        out = []
        for request in self.requests:
            form = dict(urllib.parse.parse_qsl(request.body.decode("utf-8")))
            if form.get("phones") == phone:
                out.append(form["mes"])
        return out

    def code(self, phone: str) -> str:
        """The six-digit code of the latest SMS to `phone`."""
        import re

        texts = self.texts(phone)
        assert texts, f"no SMS was sent to {phone}"
        return re.search(r"\b(\d{6})\b", texts[-1]).group(1)
