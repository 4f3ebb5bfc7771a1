"""Forms of the client site (join, code, sign-in, feedback) and the till's partner code."""

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.phones import InvalidPhone, normalize_phone

from .errors import CardError
from .partners import normalize_code, partner_code_find


class PhoneField(forms.CharField):
    """A phone in any spelling, cleaned to E.164 with the merchant's country as region."""

    def __init__(self, *args, region: str = "RU", **kwargs):
        self.region = region
        kwargs.setdefault("label", _("Phone"))
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={"inputmode": "tel", "autocomplete": "tel", "placeholder": "+7 913 123-45-67"}
            ),
        )
        super().__init__(*args, **kwargs)

    def clean(self, value):
        value = super().clean(value)
        try:
            return normalize_phone(value, self.region)
        except InvalidPhone as exc:
            raise forms.ValidationError(_("Enter a valid phone number.")) from exc


class MerchantForm(forms.Form):
    def __init__(self, *args, merchant, **kwargs):
        self.merchant = merchant
        super().__init__(*args, **kwargs)
        if "phone" in self.fields:
            self.fields["phone"].region = merchant.country


class JoinForm(MerchantForm):
    phone = PhoneField()
    full_name = forms.CharField(
        label=_("Name"), max_length=200, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    birthday = forms.DateField(
        label=_("Birthday"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("For a birthday gift."),
    )
    consent = forms.BooleanField(
        label=_("I agree to receive messages about bonuses and offers"),
        required=False,
        initial=True,
    )
    partner_code = forms.CharField(
        label=_("Partner certificate code"),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    invite = forms.CharField(required=False, max_length=16, widget=forms.HiddenInput)
    src = forms.CharField(required=False, max_length=16, widget=forms.HiddenInput)

    def clean_birthday(self):
        day = self.cleaned_data.get("birthday")
        if day and (day > timezone.localdate() or day.year < 1900):
            raise forms.ValidationError(_("Check the birthday."))
        return day

    def clean_partner_code(self):
        code = normalize_code(self.cleaned_data.get("partner_code", ""))
        if code:
            try:
                partner_code_find(merchant=self.merchant, code=code)
            except CardError as exc:
                raise forms.ValidationError(exc.message) from exc
        return code


class SigninForm(MerchantForm):
    phone = PhoneField()


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from the message"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "autofocus": True}
        ),
    )


class FeedbackForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("Your rating"),
        choices=[(i, str(i)) for i in range(1, 6)],
        coerce=int,
        widget=forms.RadioSelect,
    )
    text = forms.CharField(
        label=_("Comment"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class TillPartnerCodeForm(MerchantForm):
    phone = PhoneField()
    code = forms.CharField(label=_("Partner certificate code"), max_length=32)
    full_name = forms.CharField(label=_("Name"), max_length=200, required=False)


class PartnerBatchForm(forms.Form):
    partner_name = forms.CharField(label=_("Partner business"), max_length=100)
    size = forms.IntegerField(label=_("Number of codes"), min_value=1, max_value=100_000)
    points = forms.DecimalField(
        label=_("Certificate, points"), min_value=1, max_digits=14, decimal_places=2
    )
    valid_days = forms.IntegerField(
        label=_("Valid after redemption, days"), min_value=1, max_value=3650, initial=90
    )
    redemption_cap_percent = forms.DecimalField(
        # xgettext:no-python-format
        label=_("Certificate may pay up to, % of the check"),
        min_value=0,
        max_value=100,
        max_digits=5,
        decimal_places=2,
        initial=100,
    )
