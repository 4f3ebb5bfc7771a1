"""Forms of the onboarding pages: the merchant's status with the launch gate, the public quiz."""

import zoneinfo
from functools import cache

from django import forms
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminSelect2Widget

from .checklists import LaunchBlocked, launch_check
from .facts import fact_override_error
from .models import (
    Branch,
    Merchant,
    MerchantTask,
    OnboardingStatus,
    StaffMember,
    TaskStatus,
    TrainingModule,
)
from .pos_identity import TAKEN, employee_id_check, merchant_identity_check, store_id_check


@cache
def time_zone_choices() -> list[tuple[str, str]]:
    """Every IANA zone the server knows, sorted; legacy aliases (no "/") left out."""
    return [
        (name, name)
        for name in sorted(zoneinfo.available_timezones())
        if "/" in name or name == "UTC"
    ]


class MerchantAdminForm(forms.ModelForm):
    """The merchant change form: the time zone is picked from the known zones (with search);
    launching goes through the launch gate, with an optional override reason the specialist
    gives when launching before the checklist is done."""

    time_zone = forms.ChoiceField(
        label=_("time zone"),
        choices=time_zone_choices,
        initial="Europe/Moscow",
        widget=UnfoldAdminSelect2Widget,
        help_text=_("Type to search, e.g. Novokuznetsk. “Today” for the merchant is in this zone."),
        error_messages={
            "invalid_choice": _("Unknown time zone “%(value)s”: choose one from the list.")
        },
    )

    launch_override_reason = forms.CharField(
        label=_("Launch override reason"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_(
            "Only when launching before every required checklist task is done: why. "
            "The override is logged with your name and the time."
        ),
    )

    class Meta:
        model = Merchant
        fields = "__all__"

    def clean_evotor_user_id(self):
        return merchant_identity_check(
            field="evotor_user_id",
            value=self.cleaned_data.get("evotor_user_id"),
            merchant_id=self.instance.pk,
        )

    def clean_poster_account(self):
        return merchant_identity_check(
            field="poster_account",
            value=self.cleaned_data.get("poster_account"),
            merchant_id=self.instance.pk,
        )

    def clean(self):
        cleaned = super().clean()
        status = cleaned.get("onboarding_status")
        previous = self.instance.onboarding_status if self.instance.pk else None
        if status == OnboardingStatus.LAUNCHED and previous != OnboardingStatus.LAUNCHED:
            reason = (cleaned.get("launch_override_reason") or "").strip()
            try:
                launch_check(merchant=self.instance, pending=self.submitted_task_statuses())
            except LaunchBlocked as blocked:
                if not reason:
                    self.add_error("onboarding_status", blocked.messages[0])
                    self.add_error(
                        "launch_override_reason",
                        _("Give a reason to launch anyway, or complete the required tasks."),
                    )
        return cleaned

    TASKS_PREFIX = "tasks"  # the checklist inline's formset prefix on the same page

    def submitted_task_statuses(self) -> dict[int, str]:
        """Task statuses posted with this form by the checklist inline, by task id; the
        launch gate counts them as they will be once the save completes."""
        data, prefix = self.data, self.TASKS_PREFIX
        try:
            total = int(data.get(f"{prefix}-TOTAL_FORMS") or 0)
        except (TypeError, ValueError):
            return {}
        statuses = {}
        for index in range(min(total, 1000)):
            task_id = str(data.get(f"{prefix}-{index}-id") or "")
            status = data.get(f"{prefix}-{index}-status")
            if not task_id.isdigit():
                continue
            if data.get(f"{prefix}-{index}-DELETE"):
                statuses[int(task_id)] = TaskStatus.DONE  # a deleted task blocks nothing
            elif status:
                statuses[int(task_id)] = status
        return statuses


class BranchForm(forms.ModelForm):
    """A branch: its POS store id names one branch, and an Evotor store one merchant."""

    class Meta:
        model = Branch
        fields = "__all__"

    def clean_pos_store_id(self):
        # The branch page picks the merchant; the merchant's own form sets it on the row.
        merchant = self.cleaned_data.get("merchant")
        return store_id_check(
            value=self.cleaned_data.get("pos_store_id"),
            merchant_id=merchant.pk if merchant is not None else self.instance.merchant_id,
            branch_id=self.instance.pk,
        )


class BranchFormSet(forms.BaseInlineFormSet):
    """The merchant's branches: two rows of one form may not name the same store."""

    def clean(self):
        super().clean()
        seen = set()
        for form in self.forms:
            if not hasattr(form, "cleaned_data") or form.cleaned_data.get("DELETE"):
                continue
            store = (form.cleaned_data.get("pos_store_id") or "").lower()
            if store and store in seen:
                form.add_error("pos_store_id", TAKEN["pos_store_id_here"])
            seen.add(store)


class StaffMemberForm(forms.ModelForm):
    """A staff member: their POS employee id names one cashier of the merchant."""

    class Meta:
        model = StaffMember
        fields = "__all__"

    def clean_pos_employee_id(self):
        merchant = self.cleaned_data.get("merchant")
        return employee_id_check(
            value=self.cleaned_data.get("pos_employee_id"),
            merchant_id=merchant.pk if merchant is not None else self.instance.merchant_id,
            staff_id=self.instance.pk,
        )


def employee_ids_differ(formset) -> None:
    """Two rows of the merchant's staff form may not name the same POS employee."""
    seen = set()
    for form in formset.forms:
        if not hasattr(form, "cleaned_data") or form.cleaned_data.get("DELETE"):
            continue
        employee = (form.cleaned_data.get("pos_employee_id") or "").lower()
        if employee and employee in seen:
            form.add_error("pos_employee_id", TAKEN["pos_employee_id"])
        seen.add(employee)


class QuizForm(forms.Form):
    """One field per question: radio buttons for a single answer, checkboxes for several."""

    def __init__(self, *args, module: TrainingModule, questions=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.module = module
        self.questions = list(
            questions if questions is not None else module.questions.prefetch_related("answers")
        )
        for question in self.questions:
            choices = [(str(a.pk), a.text) for a in question.answers.all()]
            name = f"q{question.pk}"
            if question.multiple:
                self.fields[name] = forms.MultipleChoiceField(
                    label=question.text,
                    choices=choices,
                    widget=forms.CheckboxSelectMultiple,
                    help_text=_("Choose all that apply."),
                )
            else:
                self.fields[name] = forms.ChoiceField(
                    label=question.text, choices=choices, widget=forms.RadioSelect
                )

    def answers(self) -> dict[int, set[int]]:
        result = {}
        for question in self.questions:
            value = self.cleaned_data.get(f"q{question.pk}")
            if value in (None, "", []):
                continue
            values = value if isinstance(value, list) else [value]
            result[question.pk] = {int(v) for v in values}
        return result


class PersonInviteForm(forms.Form):
    """People & logins: a login for one of the merchant's owners or cashiers."""

    role = forms.ChoiceField(
        label=_("Role"), choices=[("owner", _("Owner")), ("cashier", _("Cashier"))]
    )
    full_name = forms.CharField(label=_("Full name"), max_length=200)
    email = forms.EmailField(label=_("E-mail"), required=False)
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        required=False,
        help_text=_("Empty: the e-mail is the username."),
    )
    delivery = forms.ChoiceField(
        label=_("Hand over the login"),
        choices=[
            ("email", _("E-mail a link to set the password")),
            ("password", _("Show a one-time password now")),
        ],
        initial="email",
    )
    branch = forms.ModelChoiceField(label=_("Branch"), queryset=None, required=False)
    staff = forms.ModelChoiceField(
        label=_("Existing staff member"),
        queryset=None,
        required=False,
        help_text=_("A cashier already on the staff list; empty: a new staff member is added."),
    )

    def __init__(self, *args, merchant: Merchant, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["branch"].queryset = merchant.branches.filter(is_active=True)
        self.fields["staff"].queryset = merchant.staff.filter(user__isnull=True, is_active=True)


class OwnerLinkForm(forms.Form):
    """Issue an owner link from the merchant hub."""

    days = forms.IntegerField(
        label=_("Valid, days"),
        min_value=1,
        max_value=180,
        initial=30,
        error_messages={
            "min_value": _("A link is valid for 1 to 180 days."),
            "max_value": _("A link is valid for 1 to 180 days."),
        },
    )
    recipient = forms.CharField(
        label=_("Owner's e-mail or a note"),
        max_length=254,
        required=False,
        help_text=_("Who gets the link; an e-mail if it is to be sent."),
    )
    send = forms.BooleanField(label=_("Send it by e-mail"), required=False, initial=True)

    def __init__(self, *args, merchant=None, **kwargs):
        super().__init__(*args, **kwargs)
        owner = merchant.owners.exclude(email="").order_by("pk").first() if merchant else None
        if owner is not None:
            self.fields["recipient"].initial = owner.email


class MerchantTaskForm(forms.ModelForm):
    """Every admin form that edits a task (its page, the checklist tab, the list's status
    column): a fact-checked task marked done by hand needs a reason while its fact does not
    hold."""

    class Meta:
        model = MerchantTask
        fields = "__all__"

    def _post_clean(self):
        super()._post_clean()
        message = fact_override_error(self.instance)
        if message is None:
            return
        if "fact_override_reason" in self.fields:
            self.add_error("fact_override_reason", message)
        else:
            self.add_error(None, message)
