from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, User
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from cards.admin import card_page_links

from . import admin_bonus  # noqa: F401  (registers the staff bonus periods)
from .admin_base import ScopedAdmin, ScopedTabularInline
from .admin_journey import MerchantJourneyMixin
from .admin_merchant_pages import MerchantOnboardingMixin
from .admin_pages import SafePaginationInlineFormSet
from .admin_present import NativeTextAdminMixin
from .admin_training import StaffQuizLinkMixin
from .forms import (
    BranchForm,
    BranchFormSet,
    MerchantAdminForm,
    StaffMemberForm,
    employee_ids_differ,
)
from .models import Branch, Merchant, PointAItem, StaffMember
from .pos_identity import MERCHANT_IDENTITY_FIELDS, pos_identities_log
from .services import merchant_after_save


def case_study_links(merchant):
    """The admin's report button: the printable case study and the owner dashboard."""
    return format_html(
        '<a class="button" href="{}" target="_blank">{}</a> <a href="{}" target="_blank">{}</a>',
        reverse("reports:case_study", args=[merchant.slug]),
        _("Case-study report"),
        reverse("reports:dashboard", args=[merchant.slug]),
        _("Dashboard"),
    )


admin.site.unregister(User)
admin.site.unregister(Group)


PERMISSION_ACTIONS = {
    "add": pgettext_lazy("permission", "add"),
    "change": pgettext_lazy("permission", "change"),
    "delete": pgettext_lazy("permission", "delete"),
    "view": pgettext_lazy("permission", "view"),
}


def permission_label(permission) -> str:
    """A permission as the admin's language reads it: "Программа лояльности | черновик программы
    | добавление" (Django stores the names in English at migrate time)."""
    model = permission.content_type.model_class()
    if model is None:
        return str(permission)
    action, _sep, _rest = permission.codename.partition("_")
    default = f"{action}_{model._meta.model_name}" == permission.codename
    what = PERMISSION_ACTIONS[action] if default and action in PERMISSION_ACTIONS else None
    return " | ".join(
        [
            str(model._meta.app_config.verbose_name),
            str(model._meta.verbose_name),
            str(what) if what is not None else gettext(permission.name),
        ]
    )


class PermissionLabelsMixin:
    """The permission pickers of users and groups, labelled in the admin's language."""

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        field = super().formfield_for_manytomany(db_field, request=request, **kwargs)
        if db_field.name in ("permissions", "user_permissions") and field is not None:
            field.label_from_instance = permission_label
        return field


@admin.register(User)
class UserAdmin(PermissionLabelsMixin, NativeTextAdminMixin, BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


@admin.register(Group)
class GroupAdmin(PermissionLabelsMixin, NativeTextAdminMixin, BaseGroupAdmin, ModelAdmin):
    pass


class BranchInline(ScopedTabularInline):
    model = Branch
    form = BranchForm
    formset = BranchFormSet
    fields = ["name", "address", "pos_store_id", "is_active"]
    tab = True


class PointAInline(ScopedTabularInline):
    model = PointAItem
    fields = ["kind", "text", "position"]
    verbose_name_plural = _("Point A: state before and goals")
    tab = True


class StaffFormSet(SafePaginationInlineFormSet):
    def clean(self):
        super().clean()
        employee_ids_differ(self)


class StaffInline(ScopedTabularInline):
    model = StaffMember
    form = StaffMemberForm
    formset = StaffFormSet
    fields = ["full_name", "role", "branch", "user", "phone", "pos_employee_id", "is_active"]
    tab = True

    def get_formset(self, request, obj=None, **kwargs):
        """Branches and logins of this merchant only; before the first save there are none
        to offer (the merchant's branches do not exist yet)."""
        formset = super().get_formset(request, obj, **kwargs)
        fields = formset.form.base_fields
        if "branch" in fields:
            fields["branch"].queryset = (
                obj.branches.all() if obj is not None else fields["branch"].queryset.none()
            )
        if "user" in fields and not request.user.is_superuser:
            fields["user"].queryset = (
                fields["user"].queryset.filter(staff_member__merchant=obj)
                if obj is not None
                else fields["user"].queryset.none()
            )
            fields["user"].help_text = _("Logins are created on the People & logins page.")
        return formset


@admin.register(Merchant)
class MerchantAdmin(MerchantJourneyMixin, MerchantOnboardingMixin, ScopedAdmin):
    form = MerchantAdminForm
    list_display = [
        "name",
        "business_type",
        "city",
        "country",
        "pos_integration",
        "onboarding_status",
        "launch_date",
        "program_link",
        "reports_links",
    ]
    list_filter = ["onboarding_status", "business_type", "country", "pos_integration"]
    search_fields = ["name", "slug", "city"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["owners", "specialists"]
    inlines = [BranchInline, PointAInline, StaffInline]
    fieldsets = [
        (
            _("Profile"),
            {
                "fields": [
                    "name",
                    "slug",
                    "business_type",
                    "description",
                    "city",
                    "country",
                    "currency",
                    "time_zone",
                    "launch_date",
                    "onboarding_status",
                    "launch_override_reason",
                ],
                "classes": ["tab"],
            },
        ),
        (
            _("Program channels"),
            {
                "fields": [
                    "pos_integration",
                    "adoption_target_percent",
                    "carrier_app",
                    "carrier_telegram",
                    "carrier_phone",
                    "online_orders",
                    "online_orders_note",
                ],
                "classes": ["tab"],
            },
        ),
        (
            _("Client card"),
            {
                "fields": ["brand_color", "brand_accent_color", "brand_logo", "card_page_links"],
                "classes": ["tab"],
            },
        ),
        (_("People"), {"fields": ["owners", "specialists", "partner"], "classes": ["tab"]}),
        (_("Onboarding log"), {"fields": ["onboarding_log"], "classes": ["tab"]}),
        (
            _("Economics"),
            {
                "fields": [
                    "previous_discount_percent",
                    "platform_traffic_share_percent",
                    "point_a_clients",
                    "point_a_average_check",
                    "point_a_visits_per_year",
                ],
                "classes": ["tab"],
            },
        ),
        (
            _("POS credentials"),
            {
                "fields": [
                    "evotor_user_id",
                    "poster_account",
                    "poster_client_secret",
                    "poster_api_token",
                ],
                "classes": ["tab"],
            },
        ),
    ]

    SECRET_FIELDS = {"poster_client_secret", "poster_api_token"}

    def get_fieldsets(self, request, obj=None):
        """POS secrets are shown only to those who may change the merchant (not partners)."""
        fieldsets = super().get_fieldsets(request, obj)
        if self.has_change_permission(request, obj):
            return fieldsets
        return [
            (
                title,
                {
                    **options,
                    "fields": [f for f in options["fields"] if f not in self.SECRET_FIELDS],
                },
            )
            for title, options in fieldsets
        ]

    @admin.display(description=_("Reports"))
    def reports_links(self, obj):
        return case_study_links(obj)

    @admin.display(description=_("Client card page"))
    def card_page_links(self, obj):
        if obj is None or not obj.pk:
            return "—"
        return card_page_links(obj)

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "card_page_links"]

    @admin.display(description=_("Program"))
    def program_link(self, obj):
        program = getattr(obj, "program", None)
        if program is None:
            return "—"
        url = reverse("admin:loyalty_program_change", args=[program.pk])
        return format_html('<a href="{}">{}</a>', url, _("Configure"))

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("program")

    def save_model(self, request, obj, form, change):
        before = {f: form.initial.get(f, "") if change else "" for f in MERCHANT_IDENTITY_FIELDS}
        super().save_model(request, obj, form, change)
        pos_identities_log(
            merchant=obj,
            changes={f: (before[f], getattr(obj, f)) for f in MERCHANT_IDENTITY_FIELDS},
            actor=request.user,
        )

    def save_formset(self, request, form, formset, change):
        if formset.model is not Branch:
            return super().save_formset(request, form, formset, change)
        before = {f.instance.pk: f.initial.get("pos_store_id", "") for f in formset.forms}
        super().save_formset(request, form, formset, change)
        for branch in formset.new_objects + [obj for obj, _fields in formset.changed_objects]:
            branch_store_logged(request, branch, before.get(branch.pk, ""))
        for branch in formset.deleted_objects:
            branch_store_logged(request, branch, before.get(branch.pk, ""), deleted=True)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        merchant_after_save(merchant=form.instance, acting_user=request.user)


@admin.register(StaffMember)
class StaffMemberAdmin(StaffQuizLinkMixin, ScopedAdmin):
    form = StaffMemberForm
    list_display = ["full_name", "merchant", "branch", "role", "is_active", "quiz_link"]
    list_filter = ["role", "is_active", ("merchant", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["full_name", "phone", "email"]
    list_select_related = ["merchant", "branch"]
    change_form_before_template = "admin/onboarding/_back_to_merchant.html"

    def get_form(self, request, obj=None, **kwargs):
        """The login picker offers this merchant's own logins only (never another merchant's
        cashiers); logins are created on the merchant's People & logins page."""
        form = super().get_form(request, obj, **kwargs)
        user_field = form.base_fields.get("user")
        if user_field is not None and not request.user.is_superuser:
            user_field.queryset = (
                user_field.queryset.filter(staff_member__merchant_id=obj.merchant_id)
                if obj is not None
                else user_field.queryset.none()
            )
        branch_field = form.base_fields.get("branch")
        if branch_field is not None and obj is not None:
            branch_field.queryset = branch_field.queryset.filter(merchant_id=obj.merchant_id)
        return form


def branch_store_logged(request, branch: Branch, before: str, *, deleted: bool = False) -> None:
    pos_identities_log(
        merchant=branch.merchant,
        changes={"pos_store_id": (before, "" if deleted else branch.pos_store_id)},
        actor=request.user,
        branch=branch,
    )


@admin.register(Branch)
class BranchAdmin(ScopedAdmin):
    form = BranchForm
    list_display = ["name", "merchant", "address", "is_active"]
    list_filter = [("merchant", admin.RelatedOnlyFieldListFilter), "is_active"]
    search_fields = ["name", "address"]
    list_select_related = ["merchant"]

    def save_model(self, request, obj, form, change):
        before = form.initial.get("pos_store_id", "") if change else ""
        super().save_model(request, obj, form, change)
        branch_store_logged(request, obj, before)
