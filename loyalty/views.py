"""The cashier page (`/cashier/<slug>/`): find a client, see balance, tier and caps, record a
check, refund from the purchase list. Thin: rules live in `loyalty.services`."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F, Sum
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.models import Client
from crm.phones import InvalidPhone, normalize_phone
from onboarding.access import cashier_merchant
from onboarding.models import Merchant
from onboarding.money import format_money, format_points
from onboarding.params import int_param

from .forms import ClientSearchForm, PurchaseForm, RefundForm, RegisterForm
from .models import Certificate, Purchase, PurchaseSource
from .selectors import client_card, client_find, purchases_recent
from .services.errors import LoyaltyError
from .services.members import client_register
from .services.purchases import purchase_record
from .services.refunds import refund_record
from .till_share import cashier_share


def cashier_access(user, slug: str) -> tuple[Merchant, object]:
    """(merchant, staff member serving) for a user allowed at this merchant's till, else 404.

    Cashiers only at their own merchant; owners and assigned specialists of the merchant
    (and superusers) too."""
    merchant = get_object_or_404(Merchant, slug=slug)
    staff = getattr(user, "staff_member", None)
    if staff is not None and staff.merchant_id == merchant.pk:
        staff.merchant = merchant  # the same row: spares cashier_merchant() a second read
    own = cashier_merchant(user)
    if own is not None:
        if own.pk != merchant.pk:
            raise Http404
        return merchant, staff
    allowed = (
        user.is_superuser
        or merchant.owners.filter(pk=user.pk).exists()
        or merchant.specialists.filter(pk=user.pk).exists()
    )
    if not allowed:
        raise Http404
    if staff is not None and staff.merchant_id != merchant.pk:
        staff = None
    return merchant, staff


def _client_url(merchant, query: str) -> str:
    return reverse("loyalty:cashier", args=[merchant.slug]) + "?" + urlencode({"q": query})


@login_required
def cashier_home(request, slug):
    merchant, staff = cashier_access(request.user, slug)
    search = ClientSearchForm(request.GET or None)
    context = {"merchant": merchant, "staff": staff, "search": search}
    if staff is not None:
        context["adoption"] = cashier_share(merchant=merchant, staff=staff)
    if search.is_valid():
        match = client_find(merchant=merchant, query=search.cleaned_data["q"])
        context["match"] = match
        if match.client is not None:
            _client_context(context, merchant, match.client, by_phone=match.by_phone)
        else:
            context["register"] = RegisterForm(initial={"phone": search.cleaned_data["q"]})
    return render(request, "cashier/home.html", context)


def _client_context(context, merchant, client, *, by_phone, form=None):
    card = client_card(merchant=merchant, client=client)
    context["card"] = card
    context["form"] = form or PurchaseForm(
        initial={"client_id": client.pk, "by_phone": by_phone, "request_id": uuid.uuid4()},
        certificates=card.certificates,
    )
    context["purchases"] = purchases_recent(merchant=merchant, client=client, limit=20)


@login_required
@require_POST
def cashier_purchase(request, slug):
    merchant, staff = cashier_access(request.user, slug)
    client_id = int_param(request.POST.get("client_id"))
    if client_id is None:
        raise Http404
    client = get_object_or_404(Client, merchant=merchant, pk=client_id)
    card = client_card(merchant=merchant, client=client)
    form = PurchaseForm(request.POST, certificates=card.certificates)
    context = {
        "merchant": merchant,
        "staff": staff,
        "search": ClientSearchForm(initial={"q": client.phone}),
    }
    if form.is_valid():
        data = form.cleaned_data
        certificate = None
        if data.get("certificate"):
            certificate = Certificate.objects.filter(
                merchant=merchant, client=client, pk=data["certificate"]
            ).first()
        try:
            result = purchase_record(
                merchant=merchant,
                client=client,
                amount=data["amount"],
                excluded_amount=data["excluded_amount"],
                points_to_redeem=data["points"],
                certificate=certificate,
                payment_type=data["payment_type"],
                branch=staff.branch if staff else None,
                cashier=staff,
                external_id=f"cashier:{data['request_id']}",
                source=PurchaseSource.CASHIER,
                by_phone=data["by_phone"],
            )
        except LoyaltyError as exc:
            form.add_error(None, exc.message)
        else:
            p = result.purchase
            if result.created:
                messages.success(
                    request,
                    _(
                        "Purchase recorded: %(amount)s, paid with points %(points)s, "
                        "certificate %(cert)s, cashback %(accrued)s. Balance: %(balance)s."
                    )
                    % {
                        "amount": format_money(p.amount, merchant.currency),
                        "points": format_points(p.points_redeemed),
                        "cert": format_points(p.certificate_redeemed),
                        "accrued": format_points(p.points_accrued),
                        "balance": format_points(result.balance),
                    },
                )
            else:
                messages.info(request, _("This purchase was already recorded."))
            return redirect(_client_url(merchant, client.phone))
    _client_context(
        context, merchant, client, by_phone=form.data.get("by_phone") == "True", form=form
    )
    return render(request, "cashier/home.html", context, status=400)


@login_required
@require_POST
def cashier_register(request, slug):
    merchant, _staff = cashier_access(request.user, slug)
    form = RegisterForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        referrer = None
        try:
            if data["referrer_phone"]:
                phone = normalize_phone(data["referrer_phone"], merchant.country)
                referrer = Client.objects.filter(merchant=merchant, phone=phone).first()
                if referrer is None:
                    raise LoyaltyError(_("No client with the inviter's phone."))
            result = client_register(
                merchant=merchant,
                phone=data["phone"],
                full_name=data["full_name"],
                referrer=referrer,
            )
        except (InvalidPhone, LoyaltyError) as exc:
            messages.error(request, str(exc))
            return redirect(_client_url(merchant, data["phone"]))
        messages.success(
            request,
            _("Client registered; welcome points: %(points)s.")
            % {"points": format_points(result.welcome_points)},
        )
        return redirect(_client_url(merchant, result.client.phone))
    messages.error(request, _("Enter the phone number."))
    return redirect(reverse("loyalty:cashier", args=[merchant.slug]))


@login_required
def cashier_purchases(request, slug):
    merchant, staff = cashier_access(request.user, slug)
    purchases = purchases_recent(merchant=merchant, limit=100)
    return render(
        request,
        "cashier/purchases.html",
        {"merchant": merchant, "staff": staff, "purchases": purchases},
    )


@login_required
def cashier_refund(request, slug, pk):
    merchant, staff = cashier_access(request.user, slug)
    purchase = get_object_or_404(
        Purchase.objects.select_related("client"), merchant=merchant, pk=pk
    )
    remaining = purchase.amount - purchase.refunded_amount
    promo_left = purchase.lines.filter(promo=True).aggregate(
        left=Sum(F("amount") - F("refunded_amount"))
    )["left"]
    form = RefundForm(
        request.POST or None,
        initial={
            "amount": remaining,
            "promo_amount": promo_left if promo_left is not None else 0,
            "request_id": uuid.uuid4(),
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            result = refund_record(
                merchant=merchant,
                purchase=purchase,
                amount=form.cleaned_data["amount"],
                promo_amount=form.cleaned_data["promo_amount"],
                external_id=f"cashier-refund:{form.cleaned_data['request_id']}",
                created_by=request.user,
            )
        except LoyaltyError as exc:
            form.add_error("amount", exc.message)
        else:
            if result.created:
                messages.success(
                    request,
                    _(
                        "Refund recorded: %(amount)s. Points returned %(returned)s, cashback "
                        "taken back %(reversed)s."
                    )
                    % {
                        "amount": format_money(result.refund.amount, merchant.currency),
                        "returned": format_points(result.points_returned),
                        "reversed": format_points(result.points_reversed),
                    },
                )
            else:
                messages.info(request, _("This refund was already recorded."))
            return redirect(reverse("loyalty:cashier_purchases", args=[merchant.slug]))
    return render(
        request,
        "cashier/refund.html",
        {
            "merchant": merchant,
            "staff": staff,
            "purchase": purchase,
            "remaining": remaining,
            "form": form,
        },
        status=400 if request.method == "POST" else 200,
    )
