"""Tenant scoping for every admin page: querysets, inlines, FK choices and autocomplete.

A model admin names the lookup from its model to Merchant (`merchant_lookup`); everything
the admin lists, opens or offers in a select goes through `access.visible_merchants`."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import models
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, StackedInline, TabularInline

from . import roles
from .access import visible_merchants
from .admin_pages import SafePaginationInlineFormSet
from .admin_present import MerchantTimeAdminMixin, NativeTextAdminMixin
from .models import Merchant

# How each tenant-owned model reaches Merchant; models with a plain `merchant` FK need no entry.
MERCHANT_LOOKUPS = {
    Merchant: "pk",
    "loyalty.Tier": "program__merchant",
    "loyalty.PurchaseLine": "purchase__merchant",
    "onboarding.QuizQuestion": "module__merchant",
    "onboarding.QuizAnswer": "question__module__merchant",
    "cards.ConsentRecord": "client__merchant",
}


def merchant_lookup_for(model) -> str | None:
    if model is Merchant:
        return "pk"
    label = f"{model._meta.app_label}.{model.__name__}"
    if label in MERCHANT_LOOKUPS:
        return MERCHANT_LOOKUPS[label]
    try:
        field = model._meta.get_field("merchant")
    except Exception:
        return None
    return "merchant" if field.is_relation else None


def scope_queryset(queryset, user):
    lookup = merchant_lookup_for(queryset.model)
    if lookup is None:
        return queryset
    return queryset.filter(**{f"{lookup}__in": visible_merchants(user)})


def scope_user_choices(queryset, field_name: str, user):
    """People a user may pick for owners/specialists/partner: the right role, and not
    people tied only to merchants the user cannot see."""
    role = {
        "owners": roles.OWNER,
        "specialists": roles.SPECIALIST,
        "partner": roles.PARTNER,
        "user": roles.CASHIER,
    }.get(field_name)
    if role:
        queryset = queryset.filter(groups__name=role)
    if user.is_superuser:
        return queryset.distinct()
    visible = visible_merchants(user)
    related = {
        "owners": "owned_merchants",
        "specialists": "specialist_merchants",
        "partner": "partner_merchants",
        "user": "staff_member__merchant",
    }.get(field_name)
    if related is None:
        return queryset.filter(pk=user.pk)
    return queryset.filter(
        models.Q(**{f"{related}__in": visible})
        | models.Q(**{f"{related}__isnull": True})
        | models.Q(pk=user.pk)
    ).distinct()


def merchant_id_of(obj) -> int | None:
    """The id of the merchant a tenant-owned record belongs to (None if it has none yet)."""
    lookup = merchant_lookup_for(type(obj))
    if lookup is None:
        return None
    if lookup == "pk":
        return obj.pk
    *path, last = lookup.split("__")
    for name in path:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return getattr(obj, f"{last}_id", None)


class SameMerchantFormMixin:
    """Refuses a form that ties a record of one merchant to a record of another (a client's
    tier, a review's client…): choices are scoped to every merchant the user may see, so a
    specialist of two merchants could otherwise mix them."""

    def clean(self):
        data = super().clean()
        own = data.get("merchant") if "merchant" in self.fields else None
        own_id = own.pk if own is not None else merchant_id_of(self.instance)
        if own_id is None:
            return data
        for name, field in self.fields.items():
            value = data.get(name)
            if name == "merchant" or value is None or not hasattr(field, "queryset"):
                continue
            values = value if hasattr(value, "__iter__") else [value]
            for item in values:
                other = merchant_id_of(item)
                if other is not None and other != own_id:
                    self.add_error(name, _("This belongs to another merchant."))
                    break
        return data


def _same_merchant_form(form_class):
    if issubclass(form_class, SameMerchantFormMixin):
        return form_class
    return type(form_class.__name__, (SameMerchantFormMixin, form_class), {})


class ScopedMixin:
    def get_queryset(self, request):
        return scope_queryset(super().get_queryset(request), request.user)

    def get_form(self, request, obj=None, **kwargs):
        return _same_merchant_form(super().get_form(request, obj, **kwargs))

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = _same_merchant_form(formset.form)
        return formset

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        self._scope_formfield(db_field, formfield, request)
        return formfield

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        self._scope_formfield(db_field, formfield, request)
        return formfield

    def _scope_formfield(self, db_field, formfield, request):
        if formfield is None or not hasattr(formfield, "queryset"):
            return
        if db_field.related_model is get_user_model():
            formfield.queryset = scope_user_choices(formfield.queryset, db_field.name, request.user)
        else:
            formfield.queryset = scope_queryset(formfield.queryset, request.user)


class ScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """Choices are the related rows the user may see (merchants, their tiers, branches…),
    read from the small related table rather than scanning the filtered table."""

    def field_choices(self, field, request, model_admin):
        queryset = scope_queryset(field.related_model._default_manager.all(), request.user)
        ordering = self.field_admin_ordering(field, request, model_admin)
        if ordering:
            queryset = queryset.order_by(*ordering)
        return [(obj.pk, str(obj)) for obj in queryset]


def _scoped_list_filter(model, entry):
    """A plain related-field filter lists every row of the related table — other merchants'
    names included. Offer only what the user may see."""
    if not isinstance(entry, str) or "__" in entry:
        return entry
    try:
        field = model._meta.get_field(entry)
    except Exception:
        return entry
    if not (field.is_relation and (field.many_to_one or field.many_to_many)):
        return entry
    if merchant_lookup_for(field.related_model) is not None:
        return (entry, ScopedRelatedFieldListFilter)
    return (entry, admin.RelatedOnlyFieldListFilter)


class ScopedAdmin(MerchantTimeAdminMixin, NativeTextAdminMixin, ScopedMixin, ModelAdmin):
    """Base for every tenant-owned model admin: scoped to the user's merchants, times in the
    record's merchant zone, sentences in the language's grammar."""

    def get_list_filter(self, request):
        return [
            _scoped_list_filter(self.model, entry) for entry in super().get_list_filter(request)
        ]

    list_per_page = 50
    show_full_result_count = False
    warn_unsaved_form = True


class ScopedTabularInline(ScopedMixin, TabularInline):
    extra = 0
    formset = SafePaginationInlineFormSet


class ScopedStackedInline(ScopedMixin, StackedInline):
    extra = 0
    formset = SafePaginationInlineFormSet
