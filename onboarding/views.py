from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from . import roles
from .access import cashier_merchant, dashboard_merchants, user_roles
from .forms import QuizForm
from .models import Attestation
from .quiz_attempts import quiz_attempts_left
from .training import attestation_submit, modules_for_staff, staff_by_token


@login_required
def home(request):
    """Send each role to its own place: admin for staff users, the cashier page for
    cashiers, the merchant list (dashboards) for owners and partners."""
    user = request.user
    names = user_roles(user)
    if roles.PARTNER in names and roles.SPECIALIST not in names and not user.is_superuser:
        return redirect("reports:portfolio")  # a partner's work is the portfolio
    if user.is_staff:
        return redirect("admin:index")
    if cashier_merchant(user) is not None:
        return render(request, "home.html", {"cashier_merchant": cashier_merchant(user)})
    merchants = dashboard_merchants(user).order_by("name")
    return render(request, "home.html", {"merchants": merchants})


# --- The public quiz: the link's token is the only key; it opens one staff member's quizzes.


def _staff_or_404(token: str):
    staff = staff_by_token(token=token)
    if staff is None:
        raise Http404
    return staff


@never_cache
def quiz_home(request, token: str):
    """The staff member's modules with their latest result."""
    staff = _staff_or_404(token)
    modules = list(modules_for_staff(staff=staff))
    latest = {}
    for att in Attestation.objects.filter(staff=staff).order_by("module_id", "-taken_at", "-id"):
        latest.setdefault(att.module_id, att)
    items = [
        (module, latest.get(module.pk), quiz_attempts_left(staff=staff, module=module))
        for module in modules
    ]
    return render(
        request, "onboarding/quiz_home.html", {"staff": staff, "items": items, "token": token}
    )


@never_cache
@require_http_methods(["GET", "POST"])
def quiz_take(request, token: str, module_id: int):
    staff = _staff_or_404(token)
    module = get_object_or_404(modules_for_staff(staff=staff), pk=module_id)
    questions = list(module.questions.prefetch_related("answers"))
    allowance = quiz_attempts_left(staff=staff, module=module)
    if not allowance.left:
        # Out of attempts: no questions to study until the next attempt opens.
        return render(
            request,
            "onboarding/quiz_take.html",
            {
                "staff": staff,
                "module": module,
                "token": token,
                "locked": allowance.message(staff.merchant),
            },
        )
    form = QuizForm(request.POST or None, module=module, questions=questions)
    if request.method == "POST" and form.is_valid():
        try:
            attestation = attestation_submit(staff=staff, module=module, answers=form.answers())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("onboarding:quiz_result", token=token, attestation_id=attestation.pk)
    return render(
        request,
        "onboarding/quiz_take.html",
        {"staff": staff, "module": module, "form": form, "token": token},
    )


@never_cache
def quiz_result(request, token: str, attestation_id: int):
    staff = _staff_or_404(token)
    attestation = get_object_or_404(
        Attestation.objects.select_related("module"), pk=attestation_id, staff=staff
    )
    allowance = quiz_attempts_left(staff=staff, module=attestation.module)
    return render(
        request,
        "onboarding/quiz_result.html",
        {
            "staff": staff,
            "attestation": attestation,
            "token": token,
            "allowance": allowance,
            "locked": "" if allowance.left else allowance.message(staff.merchant),
        },
    )
