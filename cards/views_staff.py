"""Pages for the merchant's staff, behind a login: the till poster with the card page's QR (HTML,
PNG, PDF) and the partner-code form at the till."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from loyalty.views import cashier_access
from onboarding.access import visible_merchants

from .errors import CardError
from .forms import TillPartnerCodeForm
from .partners import partner_enrol_at_till
from .qr import qr_pdf, qr_png, qr_svg
from .views import page_context, page_url


def join_url(request, merchant) -> str:
    return request.build_absolute_uri(page_url("join", merchant) + "?src=qr")


@login_required
@require_GET
def poster(request, slug, fmt="html"):
    merchant = get_object_or_404(visible_merchants(request.user), slug=slug)
    if fmt not in ("html", "png", "pdf"):
        raise Http404
    url = join_url(request, merchant)
    if fmt == "png":
        response = HttpResponse(qr_png(url), content_type="image/png")
    elif fmt == "pdf":
        response = HttpResponse(qr_pdf(url), content_type="application/pdf")
    else:
        return render(
            request, "cards/poster.html", page_context(merchant, url=url, qr=qr_svg(url, scale=10))
        )
    response["Content-Disposition"] = f'attachment; filename="{merchant.slug}-card-qr.{fmt}"'
    return response


@login_required
@require_POST
def till_partner_code(request, slug):
    merchant, _staff = cashier_access(request.user, slug)
    form = TillPartnerCodeForm(request.POST, merchant=merchant)
    back = reverse("loyalty:cashier", args=[merchant.slug])
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    data = form.cleaned_data
    try:
        client, certificate = partner_enrol_at_till(
            merchant=merchant, phone=data["phone"], code=data["code"], full_name=data["full_name"]
        )
    except CardError as exc:
        messages.error(request, exc.message)
        return redirect(back + "?" + f"q={data['phone']}")
    messages.success(
        request,
        _("Partner certificate for %(points)s points given to %(phone)s.")
        % {"points": certificate.points, "phone": client.phone},
    )
    return redirect(back + f"?q={client.phone.replace('+', '%2B')}")
