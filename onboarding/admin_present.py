"""Admin text and times as a person reads them.

`NativeTextAdminMixin` puts the admin's generated sentences in the grammar of the language
(see `onboarding.nouns`): success messages agree with the noun's gender, verbs take the
accusative ("Удалить программу лояльности"), counts take the plural form ("13 сотрудников").
`MerchantTimeAdminMixin` shows every time of a merchant's record in that merchant's time zone:
list columns row by row (a list may hold several merchants), change and delete pages with the
record's zone active. Both are part of `ScopedAdmin`; admins of other apps' models that we
register (users, groups, the schedule) mix in `NativeTextAdminMixin` themselves."""

from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.db import models
from django.urls import reverse
from django.utils import formats
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext, pgettext, pgettext_lazy

from onboarding.money import format_money, format_number

from . import nouns
from .localtime import merchant_localtime, merchant_timezone

# Django's own sentences, replaced by the agreeing ones below; keyed (event, variant).
# Translators: {name} is the record's kind ("компания"), {obj} its name. Each context is the
# grammatical gender of {name}; "any gender" must read well with a noun of any gender.
SAVED_MESSAGES = {
    ("added", ""): {
        "masculine": pgettext_lazy("masculine", "The {name} “{obj}” was added successfully."),
        "feminine": pgettext_lazy("feminine", "The {name} “{obj}” was added successfully."),
        "neuter": pgettext_lazy("neuter", "The {name} “{obj}” was added successfully."),
        "any gender": pgettext_lazy("any gender", "The {name} “{obj}” was added successfully."),
    },
    ("added", "continue"): {
        "masculine": pgettext_lazy(
            "masculine", "The {name} “{obj}” was added successfully. You may edit it again below."
        ),
        "feminine": pgettext_lazy(
            "feminine", "The {name} “{obj}” was added successfully. You may edit it again below."
        ),
        "neuter": pgettext_lazy(
            "neuter", "The {name} “{obj}” was added successfully. You may edit it again below."
        ),
        "any gender": pgettext_lazy(
            "any gender", "The {name} “{obj}” was added successfully. You may edit it again below."
        ),
    },
    ("added", "another"): {
        "masculine": pgettext_lazy(
            "masculine",
            "The {name} “{obj}” was added successfully. You may add another {name} below.",
        ),
        "feminine": pgettext_lazy(
            "feminine",
            "The {name} “{obj}” was added successfully. You may add another {name} below.",
        ),
        "neuter": pgettext_lazy(
            "neuter", "The {name} “{obj}” was added successfully. You may add another {name} below."
        ),
        "any gender": pgettext_lazy(
            "any gender",
            "The {name} “{obj}” was added successfully. You may add another {name} below.",
        ),
    },
    ("changed", ""): {
        "masculine": pgettext_lazy("masculine", "The {name} “{obj}” was changed successfully."),
        "feminine": pgettext_lazy("feminine", "The {name} “{obj}” was changed successfully."),
        "neuter": pgettext_lazy("neuter", "The {name} “{obj}” was changed successfully."),
        "any gender": pgettext_lazy("any gender", "The {name} “{obj}” was changed successfully."),
    },
    ("changed", "continue"): {
        "masculine": pgettext_lazy(
            "masculine", "The {name} “{obj}” was changed successfully. You may edit it again below."
        ),
        "feminine": pgettext_lazy(
            "feminine", "The {name} “{obj}” was changed successfully. You may edit it again below."
        ),
        "neuter": pgettext_lazy(
            "neuter", "The {name} “{obj}” was changed successfully. You may edit it again below."
        ),
        "any gender": pgettext_lazy(
            "any gender",
            "The {name} “{obj}” was changed successfully. You may edit it again below.",
        ),
    },
    ("changed", "another"): {
        "masculine": pgettext_lazy(
            "masculine",
            "The {name} “{obj}” was changed successfully. You may add another {name} below.",
        ),
        "feminine": pgettext_lazy(
            "feminine",
            "The {name} “{obj}” was changed successfully. You may add another {name} below.",
        ),
        "neuter": pgettext_lazy(
            "neuter",
            "The {name} “{obj}” was changed successfully. You may add another {name} below.",
        ),
        "any gender": pgettext_lazy(
            "any gender",
            "The {name} “{obj}” was changed successfully. You may add another {name} below.",
        ),
    },
    ("deleted", ""): {
        "masculine": pgettext_lazy("masculine", "The {name} “{obj}” was deleted successfully."),
        "feminine": pgettext_lazy("feminine", "The {name} “{obj}” was deleted successfully."),
        "neuter": pgettext_lazy("neuter", "The {name} “{obj}” was deleted successfully."),
        "any gender": pgettext_lazy("any gender", "The {name} “{obj}” was deleted successfully."),
    },
}


def saved_message(*, model, event: str, variant: str, obj_repr) -> str:
    """The success message after a record was added, changed or deleted, agreeing with the
    gender of the model's noun in the active language."""
    gender = nouns.gender(model) or "any gender"
    text = SAVED_MESSAGES[(event, variant)][gender]
    html = format_html(str(text), name=model._meta.verbose_name, obj=obj_repr)
    return mark_safe(capfirst(html))  # format_html escaped the parts


class NativeTextAdminMixin:
    """Admin sentences that agree in case, number and gender (see the module docstring)."""

    # --- success messages ---------------------------------------------------------------
    def response_add(self, request, obj, post_url_continue=None):
        request._native_saved = ("added", obj)
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request, obj):
        request._native_saved = ("changed", obj)
        return super().response_change(request, obj)

    def response_delete(self, request, obj_display, obj_id):
        request._native_saved = ("deleted", obj_display)
        return super().response_delete(request, obj_display, obj_id)

    def message_user(
        self, request, message, level=messages.INFO, extra_tags="", fail_silently=False
    ):
        saved = getattr(request, "_native_saved", None)
        bulk = getattr(request, "_native_bulk_deleted", None)
        if level == messages.SUCCESS and saved is not None:
            message = self._saved_message(request, *saved)
            request._native_saved = None
        elif level == messages.SUCCESS and getattr(request, "_native_list_changed", None):
            # Translators: %(things)s is a count with its noun, "3 задачи внедрения".
            message = pgettext("admin", "Changed: %(things)s.") % {
                "things": nouns.count_of(self.model, request._native_list_changed)
            }
            request._native_list_changed = None
        elif level == messages.SUCCESS and bulk is not None:
            # Translators: %(things)s is a count with its noun, "5 компаний".
            message = pgettext("admin", "Deleted: %(things)s.") % {
                "things": nouns.count_of(self.model, bulk)
            }
            request._native_bulk_deleted = None
        return super().message_user(request, message, level, extra_tags, fail_silently)

    def _saved_message(self, request, event, obj):
        post = request.POST
        if event == "deleted":
            return saved_message(model=self.model, event=event, variant="", obj_repr=obj)
        if "_saveasnew" in post:
            event, variant = "added", "continue"
        elif "_continue" in post:
            variant = "continue"
        elif "_addanother" in post:
            variant = "another"
        else:
            variant = ""
        opts = self.model._meta
        if self.has_change_permission(request, obj):
            url = reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change",
                args=(quote(obj.pk),),
                current_app=self.admin_site.name,
            )
            obj_repr = format_html('<a href="{}">{}</a>', url, obj)
        else:
            obj_repr = str(obj)
        return saved_message(model=self.model, event=event, variant=variant, obj_repr=obj_repr)

    # --- titles of the change form, the list and the delete page ------------------------
    def _retitle(self, response, titles: dict):
        context = getattr(response, "context_data", None)
        if not context:
            return response
        title = str(context.get("title", ""))
        if title in titles:
            context["title"] = titles[title]
        return response

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        response = super().changeform_view(request, object_id, form_url, extra_context)
        name, thing = self.model._meta.verbose_name, nouns.accusative(self.model)
        return self._retitle(
            response,
            {
                gettext("Add %s") % name: pgettext("admin title", "Add %(thing)s")
                % {"thing": thing},
                gettext("Change %s") % name: pgettext("admin title", "Change %(thing)s")
                % {"thing": thing},
                gettext("View %s") % name: pgettext("admin title", "View %(thing)s")
                % {"thing": thing},
            },
        )

    def log_change(self, request, obj, message):
        if getattr(request, "_native_list_changed", None) is not None:
            request._native_list_changed += 1  # counted for the list's own message
        return super().log_change(request, obj, message)

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST" and "_save" in request.POST:
            request._native_list_changed = 0  # rows saved from the list (list_editable)
        response = super().changelist_view(request, extra_context)
        name, thing = self.model._meta.verbose_name, nouns.accusative(self.model)
        return self._retitle(
            response,
            {
                gettext("Select %s to change") % name: pgettext(
                    "admin title", "Select %(thing)s to change"
                )
                % {"thing": thing},
                gettext("Select %s to view") % name: pgettext(
                    "admin title", "Select %(thing)s to view"
                )
                % {"thing": thing},
            },
        )

    def delete_view(self, request, object_id, extra_context=None):
        response = super().delete_view(request, object_id, extra_context)
        context = getattr(response, "context_data", None)
        if context and "object_name" in context:
            name, thing = self.model._meta.verbose_name, nouns.accusative(self.model)
            context["object_name"] = thing
            self._retitle(
                response,
                {
                    gettext("Cannot delete %(name)s") % {"name": name}: pgettext(
                        "admin title", "Cannot delete %(thing)s"
                    )
                    % {"thing": thing}
                },
            )
        return response

    # --- the bulk delete action ---------------------------------------------------------
    def get_action_choices(self, request, default_choices=models.BLANK_CHOICE_DASH):
        choices = super().get_action_choices(request, default_choices)
        label = pgettext("admin action", "Delete %(things)s") % {
            "things": nouns.selected(self.model)
        }
        return [(name, label if name == "delete_selected" else text) for name, text in choices]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            func, name, description = actions["delete_selected"]
            actions["delete_selected"] = (self._native_delete(func), name, description)
        return actions

    @staticmethod
    def _native_delete(func):
        def delete_selected(modeladmin, request, queryset):
            count = queryset.count()
            if request.POST.get("post"):
                request._native_bulk_deleted = count
            response = func(modeladmin, request, queryset)
            context = getattr(response, "context_data", None)
            if context and "objects_name" in context:
                context["objects_name"] = nouns.selected(modeladmin.model, count)
            return response

        delete_selected.__name__ = getattr(func, "__name__", "delete_selected")
        return delete_selected


# Decimal columns that are money (shown with the merchant's currency sign); every other decimal
# column (points, percentages) is grouped by the language's rules.
MONEY_COLUMNS = {
    "loyalty.Purchase": {"amount", "excluded_amount", "paid_money", "refunded_amount"},
    "loyalty.Refund": {"amount"},
    "loyalty.PendingRefund": {"amount"},
    "loyalty.Campaign": {"min_check_amount"},
    "crm.Client": {"total_spent"},
    "onboarding.BonusLine": {"card_sales", "refunds", "net_sales", "bonus"},
    "reports.BenefitComponent": {"manual_amount"},
}


class MerchantTimeAdminMixin:
    """Times of a merchant's records in the merchant's zone: a Novokuznetsk sale at 13:16 UTC
    reads 20:16; money columns with the merchant's currency sign and grouping ("6 362 191,46 ₽"),
    other decimals grouped. Needs `merchant_lookup` (from `admin_base`) to find the record's
    merchant."""

    ZONE_ANNOTATION = "merchant_zone_name"
    CURRENCY_ANNOTATION = "merchant_currency_code"

    def _zone_path(self) -> str | None:
        # Here, not at the top: admin_base builds its classes on this module's mixins, a cycle.
        from .admin_base import merchant_lookup_for

        lookup = merchant_lookup_for(self.model)
        if lookup is None:
            return None
        return "time_zone" if lookup == "pk" else f"{lookup}__time_zone"

    def get_list_display(self, request):
        display = super().get_list_display(request)
        if self._zone_path() is None:
            return display
        return [self._local_column(entry) for entry in display]

    def _local_column(self, entry):
        if not isinstance(entry, str):
            return entry
        try:
            field = self.model._meta.get_field(entry)
        except Exception:
            return entry
        if isinstance(field, models.DecimalField):
            return self._number_column(entry, field)
        if not isinstance(field, models.DateTimeField):
            return entry
        empty = self.get_empty_value_display()
        annotation = self.ZONE_ANNOTATION

        @admin.display(description=capfirst(field.verbose_name), ordering=entry)
        def column(obj):
            value = getattr(obj, entry)
            if value is None:
                return empty
            local = merchant_localtime(value, getattr(obj, annotation, None))
            return formats.localize(local)

        column.__name__ = entry
        return column

    def _number_column(self, entry, field):
        empty = self.get_empty_value_display()
        is_money = entry in MONEY_COLUMNS.get(self.model._meta.label, ())
        annotation = self.CURRENCY_ANNOTATION

        @admin.display(description=capfirst(field.verbose_name), ordering=entry)
        def column(obj):
            value = getattr(obj, entry)
            if value is None:
                return empty
            if is_money:
                return format_money(value, getattr(obj, annotation, None))
            return format_number(value)

        column.__name__ = entry
        return column

    def get_changelist(self, request, **kwargs):
        base = super().get_changelist(request, **kwargs)
        path = self._zone_path()
        if path is None:
            return base
        annotations = {
            self.ZONE_ANNOTATION: models.F(path),
            self.CURRENCY_ANNOTATION: models.F(path.replace("time_zone", "currency")),
        }

        class LocalTimeChangeList(base):
            def get_queryset(self, request, exclude_parameters=None):
                queryset = super().get_queryset(request, exclude_parameters)
                return queryset.annotate(**annotations)

        return LocalTimeChangeList

    def _record_zone(self, request, object_id):
        path = self._zone_path()
        if path is None or object_id is None:
            return None
        try:
            return (
                self.get_queryset(request)
                .filter(pk=unquote(object_id))
                .values_list(path, flat=True)
                .first()
            )
        except (ValueError, TypeError, Exception):
            return None

    def _in_record_zone(self, request, object_id, view):
        with merchant_timezone(self._record_zone(request, object_id)):
            response = view()
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        return response

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return self._in_record_zone(
            request,
            object_id,
            lambda: super(MerchantTimeAdminMixin, self).changeform_view(
                request, object_id, form_url, extra_context
            ),
        )

    def delete_view(self, request, object_id, extra_context=None):
        return self._in_record_zone(
            request,
            object_id,
            lambda: super(MerchantTimeAdminMixin, self).delete_view(
                request, object_id, extra_context
            ),
        )
