"""Forms of the cashier page and of the admin's manual adjustment."""

import uuid
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from loyalty.limits import max_amount_validator
from loyalty.models import PaymentType
from onboarding.money import format_points

MONEY = {"max_digits": 14, "decimal_places": 2, "min_value": Decimal(0)}


class ClientSearchForm(forms.Form):
    q = forms.CharField(
        label=_("Phone or card code"),
        max_length=64,
        widget=forms.TextInput(
            attrs={"autofocus": True, "inputmode": "tel", "autocomplete": "off"}
        ),
    )


class PurchaseForm(forms.Form):
    """A check at the till. `request_id` makes a double submit record one purchase."""

    client_id = forms.IntegerField(widget=forms.HiddenInput)
    request_id = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    by_phone = forms.BooleanField(required=False, widget=forms.HiddenInput)
    amount = forms.DecimalField(label=_("Check amount"), validators=[max_amount_validator], **MONEY)
    excluded_amount = forms.DecimalField(
        label=_("Of it promo/discounted items"),
        required=False,
        initial=Decimal(0),
        help_text=_("Promo and discounted items cannot be paid with points."),
        **MONEY,
    )
    payment_type = forms.ChoiceField(
        label=_("Payment"), choices=PaymentType.choices, initial=PaymentType.CARD
    )
    points = forms.DecimalField(
        label=_("Pay with points"), required=False, initial=Decimal(0), **MONEY
    )
    certificate = forms.TypedChoiceField(
        label=_("Certificate"), required=False, coerce=int, empty_value=None
    )

    def __init__(self, *args, certificates=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["certificate"].choices = [("", _("— none —"))] + [
            (
                c.pk,
                _("%(points)s points, up to %(cap)s%% of the check, until %(until)s")
                % {
                    "points": format_points(c.points),
                    "cap": c.redemption_cap_percent,
                    "until": c.valid_until.date(),
                },
            )
            for c in certificates
        ]

    def clean(self):
        data = super().clean()
        amount = data.get("amount")
        excluded = data.get("excluded_amount") or Decimal(0)
        if amount is not None and excluded > amount:
            self.add_error("excluded_amount", _("Promo items cannot cost more than the check."))
        data["excluded_amount"] = excluded
        data["points"] = data.get("points") or Decimal(0)
        return data


class RegisterForm(forms.Form):
    phone = forms.CharField(label=_("Phone"), max_length=32)
    full_name = forms.CharField(label=_("Name"), max_length=200, required=False)
    referrer_phone = forms.CharField(label=_("Invited by (phone)"), max_length=32, required=False)


class RefundForm(forms.Form):
    request_id = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    amount = forms.DecimalField(
        label=_("Amount to refund"), max_digits=14, decimal_places=2, min_value=Decimal("0.01")
    )
    promo_amount = forms.DecimalField(
        label=_("Of it promo items"),
        max_digits=14,
        decimal_places=2,
        min_value=Decimal(0),
        required=False,
        help_text=_("What of the refunded amount was promo/discounted items (0 if none)."),
    )

    def clean(self):
        data = super().clean()
        amount, promo = data.get("amount"), data.get("promo_amount") or Decimal(0)
        if amount is not None and promo > amount:
            self.add_error("promo_amount", _("The promo part cannot be more than the refund."))
        data["promo_amount"] = promo
        return data


class AdjustmentForm(forms.Form):
    """Manual points adjustment in the admin: a reason is required."""

    points = forms.DecimalField(
        label=_("Points"),
        max_digits=14,
        decimal_places=2,
        help_text=_("Positive adds points, negative takes them."),
    )
    reason = forms.CharField(
        label=_("Reason"), max_length=300, widget=forms.Textarea(attrs={"rows": 2})
    )

    def clean_points(self):
        points = self.cleaned_data["points"]
        if not points:
            raise forms.ValidationError(_("An adjustment of zero points changes nothing."))
        return points

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError(_("A manual adjustment needs a reason."))
        return reason
