"""The client's own site: join by QR with a one-time code, sign in, the card, history, invitations,
inbox, feedback, consent, web push and the merchant's logo. Thin views; the rules live in services,
codes and partners. The staff's pages (till poster, partner code at the till) are in views_staff.py."""

import json
from datetime import date

from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from crm.models import Client
from onboarding.models import Merchant

from . import codes, delivery, selectors, services
from .errors import CardError
from .forms import CodeForm, FeedbackForm, JoinForm, SigninForm
from .models import CardCounter, CodePurpose
from .qr import qr_svg


def _merchant(slug) -> Merchant:
    return get_object_or_404(Merchant.objects.select_related("program"), slug=slug)


def _token_key(merchant) -> str:
    return f"card_token:{merchant.pk}"


def _pending_key(merchant) -> str:
    return f"card_pending:{merchant.pk}"


def _signed_in(request, merchant) -> Client | None:
    return services.card_session_client(
        merchant=merchant, token=request.session.get(_token_key(merchant))
    )


def _sign_in(request, merchant, client) -> None:
    request.session.cycle_key()  # a new session id on sign-in: no fixation
    request.session[_token_key(merchant)] = services.card_session_start(client=client)
    request.session.pop(_pending_key(merchant), None)


def _ip(request) -> str | None:
    return get_client_ip_address(request)


def page_url(name, merchant, *args) -> str:
    return reverse(f"cards:{name}", args=[merchant.slug, *args])


def page_context(merchant, client=None, **extra) -> dict:
    return {"merchant": merchant, "member": client, **extra}


def _member_view(view):
    """The page needs a signed-in member of this merchant; others go to the join page."""

    def wrapper(request, slug, *args, **kwargs):
        merchant = _merchant(slug)
        client = _signed_in(request, merchant)
        if client is None:
            return redirect(page_url("join", merchant))
        return view(request, merchant, client, *args, **kwargs)

    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def _send_code(request, merchant, *, phone, purpose) -> bool:
    try:
        issued = codes.code_issue(merchant=merchant, phone=phone, purpose=purpose, ip=_ip(request))
    except CardError as exc:
        messages.error(request, exc.message)
        return False
    try:
        delivery.send_one_time_code(merchant=merchant, phone=phone, code=issued.code)
    except CardError as exc:
        codes.code_send_failed(issued)
        messages.error(request, exc.message)
        return False
    if purpose == CodePurpose.SIGNIN:
        email = (
            Client.objects.filter(merchant=merchant, phone=phone, joined_at__isnull=False)
            .values_list("email", flat=True)
            .first()
        )
        if email:
            link = request.build_absolute_uri(page_url("magic", merchant, issued.link_token))
            delivery.send_magic_link(merchant=merchant, email=email, link=link)
    return True


def join(request, slug):
    merchant = _merchant(slug)
    if _signed_in(request, merchant) is not None and request.method == "GET":
        return redirect(page_url("card", merchant))
    if request.method == "POST":
        form = JoinForm(request.POST, merchant=merchant)
        if form.is_valid():
            data = form.cleaned_data
            if _send_code(request, merchant, phone=data["phone"], purpose=CodePurpose.JOIN):
                request.session[_pending_key(merchant)] = {
                    "purpose": CodePurpose.JOIN,
                    "phone": data["phone"],
                    "full_name": data["full_name"],
                    "birthday": data["birthday"].isoformat() if data["birthday"] else "",
                    "consent": bool(data["consent"]),
                    "invite": data["invite"],
                    "partner_code": data["partner_code"],
                    "channel": services.join_channel_of(
                        data["src"], invite_code=data["invite"], partner_code=data["partner_code"]
                    ),
                }
                return redirect(page_url("verify", merchant))
    else:
        invite = request.GET.get("ref", "")[:16]
        src = request.GET.get("src", "")[:16]
        form = JoinForm(
            merchant=merchant,
            initial={
                "invite": invite,
                "src": src,
                "partner_code": request.GET.get("code", "")[:32],
            },
        )
        services.counter_hit(
            merchant=merchant,
            event=CardCounter.Event.JOIN_PAGE,
            channel=services.join_channel_of(src, invite_code=invite),
        )
    inviter = services.inviter_find(merchant=merchant, invite_code=form["invite"].value() or "")
    return render(
        request,
        "cards/join.html",
        page_context(merchant, form=form, inviter=inviter),
        status=400 if request.method == "POST" else 200,
    )


def signin(request, slug):
    merchant = _merchant(slug)
    form = SigninForm(request.POST or None, merchant=merchant)
    if request.method == "POST" and form.is_valid():
        phone = form.cleaned_data["phone"]
        is_member = Client.objects.filter(
            merchant=merchant, phone=phone, joined_at__isnull=False
        ).exists()
        # Everyone sees the same next step, so the form does not tell who is a member.
        sent = (
            _send_code(request, merchant, phone=phone, purpose=CodePurpose.SIGNIN)
            if (is_member)
            else True
        )
        if sent:
            request.session[_pending_key(merchant)] = {
                "purpose": CodePurpose.SIGNIN,
                "phone": phone,
            }
            return redirect(page_url("verify", merchant))
    return render(request, "cards/signin.html", page_context(merchant, form=form))


def verify(request, slug):
    merchant = _merchant(slug)
    pending = request.session.get(_pending_key(merchant))
    if not pending:
        return redirect(page_url("join", merchant))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and "resend" in request.POST:
        if _send_code(request, merchant, phone=pending["phone"], purpose=pending["purpose"]):
            messages.success(request, _("We have sent a new code."))
        return redirect(page_url("verify", merchant))
    if request.method == "POST" and form.is_valid():
        try:
            codes.code_verify(
                merchant=merchant,
                phone=pending["phone"],
                purpose=pending["purpose"],
                code=form.cleaned_data["code"],
            )
            if pending["purpose"] == CodePurpose.JOIN:
                outcome = services.card_join(
                    merchant=merchant,
                    phone=pending["phone"],
                    full_name=pending.get("full_name", ""),
                    birthday=date.fromisoformat(pending["birthday"])
                    if pending.get("birthday")
                    else None,
                    consent=pending.get("consent", False),
                    channel=pending.get("channel", "link"),
                    invite_code=pending.get("invite", ""),
                    partner_code=pending.get("partner_code", ""),
                    ip=_ip(request),
                )
                client = outcome.client
                for note in outcome.notes:
                    messages.warning(request, note)
                if outcome.joined:
                    messages.success(request, _("Welcome! Your card is ready."))
            else:
                client = Client.objects.filter(
                    merchant=merchant, phone=pending["phone"], joined_at__isnull=False
                ).first()
                if client is None:
                    raise CardError(_("The code has expired. Request a new one."))
        except CardError as exc:
            form.add_error("code", exc.message)
        else:
            _sign_in(request, merchant, client)
            return redirect(page_url("card", merchant))
    return render(
        request,
        "cards/verify.html",
        page_context(merchant, form=form, phone=pending["phone"]),
        status=400 if request.method == "POST" else 200,
    )


@require_GET
def magic(request, slug, token):
    merchant = _merchant(slug)
    try:
        row = codes.link_verify(merchant=merchant, token=token)
    except CardError as exc:
        messages.error(request, exc.message)
        return redirect(page_url("signin", merchant))
    client = Client.objects.filter(
        merchant=merchant, phone=row.phone, joined_at__isnull=False
    ).first()
    if client is None:
        return redirect(page_url("join", merchant))
    _sign_in(request, merchant, client)
    return redirect(page_url("card", merchant))


@require_POST
def signout(request, slug):
    merchant = _merchant(slug)
    services.card_session_end(token=request.session.pop(_token_key(merchant), None))
    return redirect(page_url("join", merchant))


@_member_view
def card(request, merchant, client):
    services.counter_hit(merchant=merchant, event=CardCounter.Event.VIEW)
    code = services.card_code_ensure(client=client)
    summary = selectors.card_summary(client=client)
    return render(
        request,
        "cards/card.html",
        page_context(
            merchant,
            client,
            summary=summary,
            card_qr=qr_svg(code, scale=5),
            card_code=code,
            feedback=services.feedback_due(client=client),
            feedback_form=FeedbackForm(),
            telegram_link=delivery.telegram_deep_link(client=client),
        ),
    )


@_member_view
def history(request, merchant, client):
    return render(
        request,
        "cards/history.html",
        page_context(
            merchant,
            client,
            purchases=selectors.purchases_page(client=client, page=request.GET.get("p")),
            ledger=selectors.ledger_page(client=client, page=request.GET.get("l")),
        ),
    )


@_member_view
def invite(request, merchant, client):
    profile = services.card_profile_ensure(client=client)
    link = request.build_absolute_uri(page_url("join", merchant) + f"?ref={profile.invite_code}")
    invited, bought = selectors.invited_count(client=client)
    return render(
        request,
        "cards/invite.html",
        page_context(
            merchant,
            client,
            link=link,
            invite_qr=qr_svg(link, scale=5),
            invited=invited,
            bought=bought,
            program=getattr(merchant, "program", None),
        ),
    )


@_member_view
def inbox(request, merchant, client):
    page = selectors.inbox_page(client=client, page=request.GET.get("p"))
    response = render(
        request,
        "cards/inbox.html",
        page_context(
            merchant,
            client,
            page=page,
            vapid_key=delivery.webpush_public_key(merchant=merchant),
        ),
    )
    # Opening the inbox reads it: the page above still marks what was new.
    delivery.inbox_mark_read(client=client)
    return response


@require_POST
@_member_view
def feedback(request, merchant, client, pk):
    if "dismiss" in request.POST:
        services.feedback_dismiss(request_id=pk, client=client)
        return redirect(page_url("card", merchant))
    form = FeedbackForm(request.POST)
    if form.is_valid():
        try:
            services.feedback_answer(
                request_id=pk,
                client=client,
                rating=form.cleaned_data["rating"],
                text=form.cleaned_data["text"],
            )
        except CardError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Thank you for your feedback!"))
    else:
        messages.error(request, _("Choose a rating from 1 to 5."))
    return redirect(page_url("card", merchant))


@require_POST
@_member_view
def consent(request, merchant, client):
    given = request.POST.get("consent") == "1"
    delivery.consent_set(client=client, given=given, source=_("card page"), ip=_ip(request))
    messages.success(
        request,
        _("You will receive our messages.")
        if given
        else _("You will not receive messages any more."),
    )
    return redirect(page_url("card", merchant))


@require_POST
@_member_view
def push_subscribe(request, merchant, client):
    try:
        subscription = json.loads(request.body or b"{}")
        if not isinstance(subscription, dict) or not subscription.get("endpoint"):
            raise ValueError
    except ValueError:
        return JsonResponse({"error": _("The subscription is not valid.")}, status=400)
    try:
        delivery.webpush_subscribe(client=client, subscription=subscription)
    except CardError as exc:
        return JsonResponse({"error": exc.message}, status=409)
    return JsonResponse({"ok": True})


@require_GET
def logo(request, slug):
    merchant = _merchant(slug)
    if not merchant.brand_logo:
        raise Http404
    try:
        handle = merchant.brand_logo.open("rb")
    except OSError as exc:
        raise Http404 from exc
    response = FileResponse(handle)
    response["Content-Type"] = _image_type(handle)
    response["Cache-Control"] = "public, max-age=3600"
    return response


def _image_type(handle) -> str:
    head = handle.read(12)
    handle.seek(0)
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head[:4] == b"RIFF":
        return "image/webp"
    return "image/jpeg"
