"""Admin of training: modules with their quiz questions and answers, attestations, and the staff
member's quiz link (mixed into the staff admin)."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import training
from .access import can_edit_merchant, visible_merchants
from .admin_base import ScopedAdmin, ScopedTabularInline
from .admin_journey import InstallStandardModulesMixin
from .admin_onboarding import MERCHANT_FILTER
from .models import (
    Attestation,
    Merchant,
    QuizAnswer,
    QuizQuestion,
    TrainingModule,
)


class QuizQuestionInline(ScopedTabularInline):
    model = QuizQuestion
    fields = ["position", "text", "multiple", "answers_link"]
    readonly_fields = ["answers_link"]
    show_change_link = True

    @admin.display(description=_("answers"))
    def answers_link(self, obj):
        if obj.pk is None:
            return "—"
        url = reverse("admin:onboarding_quizquestion_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, _("Edit answers"))


@admin.register(TrainingModule)
class TrainingModuleAdmin(InstallStandardModulesMixin, ScopedAdmin):
    change_form_before_template = "admin/onboarding/_back_to_merchant.html"
    list_display = ["title", "merchant", "pass_threshold_percent", "questions_count", "is_active"]
    list_filter = [MERCHANT_FILTER, "is_active"]
    search_fields = ["title"]
    list_select_related = ["merchant"]
    inlines = [QuizQuestionInline]
    actions = ["install_standard"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(n_questions=Count("questions"))

    @admin.display(description=_("questions"), ordering="n_questions")
    def questions_count(self, obj):
        return obj.n_questions

    @admin.action(
        description=_("Add the standard modules to these modules' merchants"),
        permissions=["add"],
    )
    def install_standard(self, request, queryset):
        merchants = Merchant.objects.filter(pk__in=queryset.values("merchant_id"))
        created = 0
        for merchant in merchants:
            if can_edit_merchant(request.user, merchant):
                created += len(training.modules_install_standard(merchant=merchant))
        self.message_user(
            request,
            ngettext("%(count)d module added.", "%(count)d modules added.", created)
            % {"count": created},
        )


class QuizAnswerInline(ScopedTabularInline):
    model = QuizAnswer
    fields = ["position", "text", "is_correct"]
    extra = 2


@admin.register(QuizQuestion)
class QuizQuestionAdmin(ScopedAdmin):
    list_display = ["text", "module", "multiple"]
    list_filter = [("module__merchant", admin.RelatedOnlyFieldListFilter)]
    list_select_related = ["module__merchant"]
    inlines = [QuizAnswerInline]

    def get_queryset(self, request):
        # Reached through the module: scope by the module's merchant.
        return (
            super()
            .get_queryset(request)
            .filter(module__merchant__in=visible_merchants(request.user))
        )

    def get_model_perms(self, request):
        return {}  # edited from the module page; hidden from the sidebar


@admin.register(Attestation)
class AttestationAdmin(ScopedAdmin):
    list_display = [
        "staff",
        "module",
        "attempt",
        "score_percent",
        "pass_threshold_percent",
        "passed",
        "taken_at",
    ]
    list_filter = ["passed", MERCHANT_FILTER, ("module", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["staff__full_name", "module__title"]
    list_select_related = ["staff", "module"]
    readonly_fields = [f.name for f in Attestation._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class StaffQuizLinkMixin:
    """Mixed into StaffMemberAdmin: the shareable quiz link and its actions."""

    actions = ["create_quiz_links", "regenerate_quiz_links"]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("quiz_link")

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "quiz_link"]

    @admin.display(description=_("quiz link"))
    def quiz_link(self, obj):
        link = getattr(obj, "quiz_link", None) if obj and obj.pk else None
        if link is None:
            return "—"
        url = reverse("onboarding:quiz_home", args=[link.token])
        request = getattr(self, "_request", None)
        absolute = request.build_absolute_uri(url) if request else url
        return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, absolute)

    def changelist_view(self, request, extra_context=None):
        self._request = request
        return super().changelist_view(request, extra_context)

    def changeform_view(self, request, *args, **kwargs):
        self._request = request
        return super().changeform_view(request, *args, **kwargs)

    @admin.action(description=_("Create quiz links"), permissions=["change"])
    def create_quiz_links(self, request, queryset):
        for staff in queryset:
            training.quiz_link_for(staff=staff)
        self.message_user(request, _("Quiz links are ready."))

    @admin.action(
        description=_("Replace quiz links (old links stop working)"), permissions=["change"]
    )
    def regenerate_quiz_links(self, request, queryset):
        for staff in queryset:
            training.quiz_link_regenerate(staff=staff)
        self.message_user(request, _("Quiz links replaced."))
