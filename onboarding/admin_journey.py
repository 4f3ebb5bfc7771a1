"""The merchant hub and People & logins, mixed into MerchantAdmin; the "add standard
modules" page of the training admin. Thin callers of `journey`, `facts`, `people`,
`checklists` and `training`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from . import checklists, owner_link, people, training
from .access import can_edit_merchant, visible_merchants
from .adoption import adoption_week
from .facts import facts_for, facts_sync
from .forms import OwnerLinkForm, PersonInviteForm
from .journey import journey_steps
from .models import ChecklistTemplate, Merchant, OwnerLink, StaffMember
from .params import int_param


class MerchantJourneyMixin:
    """Mixed into MerchantAdmin: the journey on the change page, People & logins, and
    pickers limited to this merchant's own people."""

    change_form_before_template = "admin/onboarding/merchant/journey.html"

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        owners = form.base_fields.get("owners")
        if owners is not None and not request.user.is_superuser:
            # Only this merchant's own owners; new ones come from People & logins.
            owners.queryset = obj.owners.all() if obj is not None else owners.queryset.none()
        return form

    def change_view(self, request, object_id, form_url="", extra_context=None):
        merchant = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if merchant is not None:
            facts_sync(merchants=[merchant])
            facts = facts_for(merchants=[merchant])[merchant.pk]
            extra_context["journey"] = journey_steps(merchant=merchant, facts=facts)
            extra_context["adoption"] = adoption_week(merchant=merchant)
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "<int:object_id>/people/",
                wrap(self.people_view),
                name="onboarding_merchant_people",
            ),
            path(
                "<int:object_id>/owner-links/",
                wrap(self.owner_links_view),
                name="onboarding_merchant_owner_links",
            ),
            path(
                "<int:object_id>/apply-checklist/",
                wrap(self.apply_checklist_view),
                name="onboarding_merchant_apply_checklist",
            ),
            *super().get_urls(),
        ]

    def _merchant(self, request, object_id) -> Merchant:
        if not self.has_view_permission(request):
            raise PermissionDenied
        return get_object_or_404(visible_merchants(request.user), pk=object_id)

    def people_view(self, request, object_id):
        merchant = self._merchant(request, object_id)
        can_edit = can_edit_merchant(request.user, merchant)
        form = PersonInviteForm(request.POST or None, merchant=merchant)
        invite = None
        if request.method == "POST":
            if not can_edit:
                raise PermissionDenied
            if "deactivate" in request.POST:
                user_id = int_param(request.POST.get("deactivate"))
                user = get_user_model().objects.filter(pk=user_id).first()
                if user is None:
                    raise PermissionDenied
                switched_off = people.person_deactivate(
                    merchant=merchant, user=user, actor=request.user
                )
                name = user.get_full_name() or user.get_username()
                if switched_off:
                    message = _("%(name)s is unlinked; the login is switched off.")
                else:
                    message = _("%(name)s is unlinked from this merchant.")
                messages.success(request, message % {"name": name})
                return HttpResponseRedirect(request.path)
            if form.is_valid():
                data = form.cleaned_data
                try:
                    invite = people.person_invite(
                        merchant=merchant,
                        role=data["role"],
                        full_name=data["full_name"],
                        email=data["email"],
                        username=data["username"],
                        delivery=data["delivery"],
                        branch=data["branch"],
                        staff=data["staff"],
                        actor=request.user,
                        base_url=request.build_absolute_uri("/"),
                    )
                except ValidationError as error:
                    if hasattr(error, "error_dict"):
                        for field, errors in error.error_dict.items():
                            form.add_error(field if field in form.fields else None, errors)
                    else:
                        form.add_error(None, error)
                else:
                    if invite.link:
                        messages.success(
                            request,
                            _("Login %(username)s created; the invitation is sent to %(email)s.")
                            % {"username": invite.user.get_username(), "email": invite.user.email},
                        )
                        return HttpResponseRedirect(request.path)
                    form = PersonInviteForm(merchant=merchant)
        context = {
            **self.admin_site.each_context(request),
            "title": _("People & logins"),
            "subtitle": merchant.name,
            "opts": self.model._meta,
            "merchant": merchant,
            "form": form,
            "invite": invite,
            "can_edit": can_edit,
            "owners": merchant.owners.order_by("username"),
            "staff": StaffMember.objects.filter(merchant=merchant)
            .select_related("user", "branch")
            .order_by("-is_active", "full_name"),
        }
        return TemplateResponse(request, "admin/onboarding/people.html", context)

    def owner_links_view(self, request, object_id):
        """Create, send and revoke the owner's read-only links; each link's openings."""
        merchant = self._merchant(request, object_id)
        can_edit = can_edit_merchant(request.user, merchant)
        form = OwnerLinkForm(request.POST or None, merchant=merchant)
        # The new link's URL survives one redirect in the session and is shown once, so a
        # reload neither re-posts (another link) nor shows the secret again.
        secret_key = f"owner_link_created:{merchant.pk}"
        created_url = None if request.method == "POST" else request.session.pop(secret_key, None)
        if request.method == "POST":
            if not can_edit:
                raise PermissionDenied
            if "revoke" in request.POST:
                link = OwnerLink.objects.filter(
                    merchant=merchant, pk=int_param(request.POST.get("revoke"))
                ).first()
                if link is None:
                    raise PermissionDenied
                if owner_link.owner_link_revoke(link=link, actor=request.user):
                    messages.success(request, _("The link is revoked; it opens nothing now."))
                return HttpResponseRedirect(request.path)
            if form.is_valid():
                try:
                    created = owner_link.owner_link_create(
                        merchant=merchant,
                        actor=request.user,
                        days=form.cleaned_data["days"],
                        recipient=form.cleaned_data["recipient"],
                        send=form.cleaned_data["send"],
                        base_url=request.build_absolute_uri("/"),
                    )
                except ValidationError as error:
                    for field, errors in error.error_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    if form.cleaned_data["send"]:
                        messages.success(
                            request,
                            _("The link is sent to %(email)s.") % {"email": created.link.recipient},
                        )
                    request.session[secret_key] = created.url
                    return HttpResponseRedirect(request.path)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Owner links"),
            "subtitle": merchant.name,
            "opts": self.model._meta,
            "merchant": merchant,
            "form": form,
            "created_url": created_url,
            "can_edit": can_edit,
            "links": owner_link.owner_links(merchant=merchant),
            "now": timezone.now(),
        }
        return TemplateResponse(request, "admin/onboarding/owner_links.html", context)

    def apply_checklist_view(self, request, object_id):
        merchant = self._merchant(request, object_id)
        if request.method != "POST" or not can_edit_merchant(request.user, merchant):
            raise PermissionDenied
        template = (
            ChecklistTemplate.objects.filter(pk=int_param(request.POST.get("template"))).first()
            or ChecklistTemplate.objects.order_by("-is_default", "name").first()
        )
        if template is None:
            messages.error(request, _("There is no checklist template yet."))
        else:
            created = checklists.template_apply(
                merchant=merchant, template=template, actor=request.user
            )
            messages.success(
                request,
                _("Checklist “%(name)s” applied: %(count)d task(s) created.")
                % {"name": template.name, "count": len(created)},
            )
        return HttpResponseRedirect(reverse("admin:onboarding_merchant_change", args=[merchant.pk]))


class InstallStandardModulesMixin:
    """Mixed into TrainingModuleAdmin: add the standard modules (questions and answers
    included) to a merchant that may have none yet."""

    def get_urls(self):
        return [
            path(
                "install-standard/",
                self.admin_site.admin_view(self.install_standard_view),
                name="onboarding_trainingmodule_install_standard",
            ),
            *super().get_urls(),
        ]

    def install_standard_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        merchants = visible_merchants(request.user).order_by("name")
        chosen = int_param(request.POST.get("merchant") or request.GET.get("merchant"))
        merchant = merchants.filter(pk=chosen).first() if chosen else None
        if request.method == "POST" and merchant is not None:
            if not can_edit_merchant(request.user, merchant):
                raise PermissionDenied
            created = training.modules_install_standard(merchant=merchant)
            messages.success(
                request,
                _("%(merchant)s: %(count)d standard module(s) added with their quizzes.")
                % {"merchant": merchant.name, "count": len(created)},
            )
            return HttpResponseRedirect(
                reverse("admin:onboarding_training_matrix") + f"?merchant={merchant.pk}"
            )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Add the standard training modules"),
            "opts": self.model._meta,
            "merchants": merchants,
            "merchant": merchant,
            "modules": training.STANDARD_MODULES,
            "error": request.method == "POST" and merchant is None,
        }
        return TemplateResponse(request, "admin/onboarding/install_standard.html", context)
