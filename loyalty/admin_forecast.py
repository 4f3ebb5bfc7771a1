"""Program drafts in the admin and the forecast page: two drafts side by side on the
merchant's own history, beside the previous direct discount; the chosen one becomes the
program (`loyalty.forecast.drafts.draft_apply`, through the program's save service)."""

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from onboarding.access import visible_merchants
from onboarding.admin_base import ScopedAdmin
from onboarding.models import Merchant

from .forecast.drafts import PROGRAM_FIELDS, draft_apply, draft_parts, settings_from_program
from .forecast.models import ProgramDraft
from .forecast.service import ForecastError, forecast_context, forecast_run
from .models import Program


class _DraftForm(forms.ModelForm):
    """The program's own fields plus the ladder as lines "name; cashback %; max redemption %;
    spend threshold", validated like the program (`draft_parts`)."""

    tiers = forms.CharField(
        label=_("Tiers"),
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_(
            "One tier a line, entry tier first: name; cashback %; max redemption %; spend "
            "threshold. E.g. “Silver; 3; 20; 0”."
        ),
    )

    class Meta:
        model = ProgramDraft
        fields = ["merchant", "name", "redeem_share_percent"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        settings = self.instance.settings if self.instance.pk else {}
        if not self.instance.pk and self.initial.get("merchant"):
            merchant = Merchant.objects.filter(pk=self.initial["merchant"]).first()
            settings = settings_from_program(merchant) if merchant else {}
        for name in PROGRAM_FIELDS:
            if name in settings:
                self.initial.setdefault(name, settings[name])
        self.initial.setdefault(
            "tiers",
            "\n".join(
                "; ".join(
                    str(t.get(f, ""))
                    for f in (
                        "name",
                        "cashback_percent",
                        "max_redemption_percent",
                        "spend_threshold",
                    )
                )
                for t in settings.get("tiers", [])
            ),
        )

    def clean(self):
        data = super().clean()
        tiers = []
        for number, line in enumerate((data.get("tiers") or "").splitlines(), start=1):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split(";")]
            if len(parts) != 4:
                raise ValidationError(
                    gettext(
                        "Tier line %(n)s: give name; cashback %%; max redemption %%; threshold."
                    )
                    % {"n": number}
                )
            try:
                numbers = [str(Decimal(p.replace(",", ".").replace(" ", ""))) for p in parts[1:]]
            except InvalidOperation:
                raise ValidationError(
                    gettext("Tier line %(n)s: the percentages and threshold must be numbers.")
                    % {"n": number}
                ) from None
            tiers.append(
                dict(
                    zip(
                        ("name", "cashback_percent", "max_redemption_percent", "spend_threshold"),
                        [parts[0], *numbers],
                        strict=True,
                    )
                )
            )
        settings = {name: data.get(name) for name in PROGRAM_FIELDS}
        settings = {k: (str(v) if isinstance(v, Decimal) else v) for k, v in settings.items()}
        settings["tiers"] = tiers
        merchant = data.get("merchant")
        if merchant is not None:
            draft_parts(merchant=merchant, settings=settings)
        self.instance.settings = settings
        return data


# The program's fields, declared on the form as the program's own form fields.
ProgramDraftForm = type(
    "ProgramDraftForm",
    (_DraftForm,),
    {name: Program._meta.get_field(name).formfield() for name in PROGRAM_FIELDS},
)


@admin.register(ProgramDraft)
class ProgramDraftAdmin(ScopedAdmin):
    form = ProgramDraftForm
    list_display = ["name", "merchant", "redeem_share_percent", "updated_at", "applied_at"]
    list_filter = ["merchant"]
    search_fields = ["name", "merchant__name"]
    readonly_fields = ["applied_at"]

    def get_fieldsets(self, request, obj=None):
        return [
            (None, {"fields": ["merchant", "name", "redeem_share_percent", "applied_at"]}),
            (_("Program"), {"fields": list(PROGRAM_FIELDS)}),
            (_("Tiers"), {"fields": ["tiers"]}),
        ]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def get_urls(self):
        return [
            path(
                "forecast/<int:merchant_id>/",
                self.admin_site.admin_view(self.forecast_view),
                name="loyalty_programdraft_forecast",
            ),
            *super().get_urls(),
        ]

    def forecast_view(self, request, merchant_id: int):
        """Two drafts side by side (?a=&b=&months=); POST apply=<draft id> makes it the program."""
        if not request.user.has_perm("loyalty.view_programdraft"):
            raise PermissionDenied
        merchant = get_object_or_404(visible_merchants(request.user), pk=merchant_id)
        drafts = list(ProgramDraft.objects.filter(merchant=merchant).order_by("name"))
        if request.method == "POST":
            return self._apply(request, merchant, drafts)
        by_id = {str(d.pk): d for d in drafts}
        chosen = [by_id[k] for k in (request.GET.get("a"), request.GET.get("b")) if k in by_id]
        if not chosen:
            chosen = drafts[:2]
        try:
            months = int(request.GET.get("months") or 12)
        except ValueError:
            months = 12
        fc, error = None, None
        try:
            fc = forecast_context(forecast_run(merchant=merchant, drafts=chosen, months=months))
        except (ForecastError, ValidationError) as exc:
            error = "; ".join(getattr(exc, "messages", [str(exc)]))
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Program forecast: %(name)s") % {"name": merchant.name},
            "opts": self.model._meta,
            "merchant": merchant,
            "drafts": drafts,
            "chosen": [d.pk for d in chosen],
            "months": months,
            "fc": fc,
            "error": error,
            "can_apply": request.user.has_perm("loyalty.change_program"),
        }
        return TemplateResponse(request, "admin/loyalty/program_forecast.html", context)

    def _apply(self, request, merchant, drafts):
        if not request.user.has_perm("loyalty.change_program"):
            raise PermissionDenied
        draft = next((d for d in drafts if str(d.pk) == request.POST.get("apply")), None)
        if draft is None:
            raise PermissionDenied
        try:
            program = draft_apply(merchant=merchant, draft=draft)
        except ValidationError as exc:
            messages.error(request, "; ".join(exc.messages))
            return redirect(request.get_full_path())
        self.log_change(request, draft, gettext("Made the program"))
        messages.success(
            request,
            gettext("“%(draft)s” is now the program of %(merchant)s.")
            % {"draft": draft.name, "merchant": merchant.name},
        )
        return redirect(reverse("admin:loyalty_program_change", args=[program.pk]))
