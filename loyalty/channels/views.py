"""Public endpoints of the channels: the Telegram webhook and the unsubscribe page."""

import json

from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from crm.models import Client

from ..models import Channel
from .consent import consent_withdraw, unsubscribe_token_read
from .telegram_updates import WebhookRejected, telegram_update_process, webhook_authenticate

MAX_UPDATE_BYTES = 1_000_000


@csrf_exempt
@require_POST
def telegram_webhook(request, merchant_id: int, hook: str):
    """Telegram's update for a merchant's bot; answers 200 with the reply to send (Telegram
    performs a method given in the webhook's answer) or an empty object."""
    try:
        channel_settings = webhook_authenticate(
            merchant_id=merchant_id,
            hook=hook,
            secret_header=request.headers.get("X-Telegram-Bot-Api-Secret-Token"),
        )
        if len(request.body) > MAX_UPDATE_BYTES:
            raise WebhookRejected(400, "update too large")
        try:
            update = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise WebhookRejected(400, "body is not JSON") from None
        if not isinstance(update, dict):
            raise WebhookRejected(400, "body must be a JSON object")
        answer = telegram_update_process(channel_settings=channel_settings, update=update)
    except WebhookRejected as exc:
        return JsonResponse({"ok": False, "error": str(exc)}, status=exc.status)
    return JsonResponse(answer or {})


@csrf_exempt  # the link's signature is the credential; mail clients post one-click (RFC 8058)
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET shows what the link does and a button (link scanners must not unsubscribe
    anyone); POST withdraws the client's consent for that channel."""
    parsed = unsubscribe_token_read(token)
    if parsed is None:
        raise Http404
    client_id, channel = parsed
    client = get_object_or_404(Client.objects.select_related("merchant"), pk=client_id)
    done = False
    if request.method == "POST":
        consent_withdraw(client=client, channel=channel, source="unsubscribe link")
        done = True
    return render(
        request,
        "channels/unsubscribe.html",
        {
            "merchant": client.merchant,
            "channel_label": Channel(channel).label,
            "done": done,
        },
    )
