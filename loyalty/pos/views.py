"""POS webhook endpoints (thin: authenticate, parse, call the adapter, log, answer).

Answers: 200 for accepted, duplicate, pending or ignored events; 400 with the reason for a
body we cannot understand; 401 for a bad token or signature (and nothing is changed)."""

import logging

from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from loyalty.tasks import enqueue_pos_retry

from ..sources import PurchaseSource
from . import evotor, poster
from .adapters import pos_adapter_for
from .common import BadRequest, Outcome, Unauthorized, answer, event_log, json_body
from .models import PosEvent
from .receipt import receipt_record
from .retry import retry_schedule

logger = logging.getLogger("loyalty.pos")


def _unauthorized(system: str, request, exc: Exception) -> JsonResponse:
    logger.warning("%s %s rejected: %s", system, request.path, exc)
    return JsonResponse({"status": "unauthorized", "message": str(exc)}, status=401)


def _bad(system, request, merchant, exc, payload=None) -> JsonResponse:
    outcome = Outcome(PosEvent.Status.REJECTED, str(exc))
    status = getattr(exc, "status", 400)
    logger.warning("%s %s refused (%s): %s", system, request.path, status, exc)
    if merchant is not None:  # only authenticated senders get their bad bodies stored
        event_log(
            system=system,
            endpoint=request.path,
            merchant=merchant,
            outcome=outcome,
            payload=payload if status != 413 else None,  # an oversized body is not kept
        )
    return answer(outcome, status=status)


@csrf_exempt
@require_http_methods(["POST"])
def evotor_user(request, action: str):
    """`/pos/evotor/user/create` and `/user/verify`: issue the user token."""
    try:
        evotor.check_app_token(request.headers.get("Authorization", ""))
    except Unauthorized as exc:
        return _unauthorized(PurchaseSource.EVOTOR, request, exc)
    try:
        merchant, body = evotor.user_token_issue(json_body(request))
    except BadRequest as exc:
        return _bad(PurchaseSource.EVOTOR, request, None, exc)
    except Unauthorized as exc:
        return _unauthorized(PurchaseSource.EVOTOR, request, exc)
    event_log(
        system=PurchaseSource.EVOTOR,
        endpoint=request.path,
        merchant=merchant,
        outcome=Outcome(PosEvent.Status.ACCEPTED, f"user token issued ({action})"),
        payload={"userId": body["userId"]},  # never the password or the token
    )
    return JsonResponse(body)


@csrf_exempt
@require_http_methods(["PUT", "POST"])
def evotor_documents(request, store_uuid: str):
    """`/pos/evotor/api/v1/inventories/stores/<storeUuid>/documents`: SELL and PAYBACK."""
    try:
        merchant = evotor.merchant_for_token(
            request.headers.get("Authorization", ""),
            user_id=request.headers.get("X-Evotor-User-Id"),
        )
    except Unauthorized as exc:
        return _unauthorized(PurchaseSource.EVOTOR, request, exc)
    payload = None

    def log(outcome, document, save=True):
        return event_log(
            system=PurchaseSource.EVOTOR,
            endpoint=request.path,
            merchant=merchant,
            outcome=outcome,
            payload=document,
            save=save,
        )

    try:
        payload = json_body(request)
        documents = evotor.documents_of(payload)
        for document in documents:
            user_id = isinstance(document, dict) and document.get("user_id")
            if user_id and merchant.evotor_user_id and user_id != merchant.evotor_user_id:
                raise Unauthorized("the document belongs to another Evotor user")
        outcomes = evotor.documents_apply(
            merchant=merchant, store_id=store_uuid, payload=payload, endpoint=request.path, log=log
        )
    except Unauthorized as exc:
        return _unauthorized(PurchaseSource.EVOTOR, request, exc)
    except BadRequest as exc:
        return _bad(PurchaseSource.EVOTOR, request, merchant, exc, payload)
    documents = payload if isinstance(payload, list) else [payload]
    for outcome, document in zip(outcomes, documents, strict=False):
        if not outcome.logged:  # a recorded sale's row was written with the purchase
            log(outcome, document)
    if len(outcomes) == 1:
        return answer(outcomes[0])
    return JsonResponse({"status": "accepted", "results": [o.status for o in outcomes]})


@csrf_exempt
@require_http_methods(["POST"])
def evotor_receipts(request):
    """`/pos/evotor/api/v2/receipts`: the simplified receipt has no client phone and no
    refund link, so it is logged and ignored; sales come from the documents notification."""
    try:
        payload = json_body(request)
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            raise BadRequest("expected {id, userId, type, data:{…}}")
        merchant = evotor.merchant_for_token(
            request.headers.get("Authorization", ""),
            user_id=payload.get("userId") or request.headers.get("X-Evotor-User-Id"),
        )
    except Unauthorized as exc:
        return _unauthorized(PurchaseSource.EVOTOR, request, exc)
    except BadRequest as exc:
        return _bad(PurchaseSource.EVOTOR, request, None, exc)
    store = payload["data"].get("storeId")
    try:
        if store:
            evotor.store_check(merchant, str(store))
    except Unauthorized as exc:
        return _unauthorized(PurchaseSource.EVOTOR, request, exc)
    outcome = Outcome(
        PosEvent.Status.IGNORED,
        "receipt V2 carries no client; sales are taken from the documents notification",
        external_id=str(payload["data"].get("id") or ""),
    )
    event_log(
        system=PurchaseSource.EVOTOR,
        endpoint=request.path,
        merchant=merchant,
        outcome=outcome,
        payload=payload,
    )
    return answer(outcome)


@csrf_exempt
@require_http_methods(["POST"])
def poster_webhook(request):
    """`/pos/poster/`: verify the md5 signature, then sync the transaction's state."""
    try:
        payload = json_body(request)
        merchant = poster.verify(payload)
    except BadRequest as exc:
        return _bad(PurchaseSource.POSTER, request, None, exc)
    except Unauthorized as exc:
        return _unauthorized(PurchaseSource.POSTER, request, exc)
    try:
        outcome = poster.hook_apply(merchant=merchant, payload=payload)
    except BadRequest as exc:
        # Poster holds back the account's later hooks while one is not answered 200, and a
        # hook whose transaction we refuse (data we cannot store) never becomes acceptable:
        # it is kept as rejected with the reason and acknowledged (docs/engine.md).
        logger.warning("poster %s rejected: %s", request.path, exc)
        outcome = Outcome(
            PosEvent.Status.REJECTED, str(exc), external_id=f"poster:{payload['object_id']}"
        )
    except poster.PosterApiError as exc:
        # Poster stops sending hooks while one stays unaccepted: accept, keep it, and retry
        # it with backoff (loyalty.pos.retry).
        outcome = Outcome(
            PosEvent.Status.FAILED, str(exc), external_id=f"poster:{payload['object_id']}"
        )
    event = event_log(
        system=PurchaseSource.POSTER,
        endpoint=request.path,
        merchant=merchant,
        outcome=outcome,
        payload=payload,
    )
    if event.status == PosEvent.Status.FAILED:
        retry_schedule(event)
        enqueue_pos_retry(event.pk)
    return JsonResponse({"status": "accept", "result": outcome.status, "message": outcome.message})


@csrf_exempt
@require_http_methods(["POST"])
def pos_adapter_webhook(request, system: str):
    """`/pos/<system>/` for a registered adapter (`loyalty.pos.adapters`): authenticate,
    parse the JSON body into a receipt, record it, log and answer the outcome."""
    adapter = pos_adapter_for(system)
    if adapter is None:
        raise Http404
    try:
        merchant = adapter.authenticate(request)
    except Unauthorized as exc:
        return _unauthorized(system, request, exc)
    payload = None

    def log(outcome, save=True):
        return event_log(
            system=system, endpoint=request.path, merchant=merchant, outcome=outcome,
            payload=payload, save=save,
        )  # fmt: skip

    try:
        payload = json_body(request)
        outcome = receipt_record(
            merchant=merchant, receipt=adapter.parse(merchant=merchant, payload=payload), log=log
        )
    except Unauthorized as exc:
        return _unauthorized(system, request, exc)
    except BadRequest as exc:
        return _bad(system, request, merchant, exc, payload)
    if not outcome.logged:  # a recorded sale's row was written with the purchase
        log(outcome)
    return answer(outcome)
