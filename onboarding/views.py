from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from .access import cashier_merchant, dashboard_merchants


@login_required
def home(request):
    """Send each role to its own place: admin for staff users, the cashier page for
    cashiers, the merchant list (dashboards) for owners and partners."""
    user = request.user
    if user.is_staff:
        return redirect("admin:index")
    if cashier_merchant(user) is not None:
        return render(request, "home.html", {"cashier_merchant": cashier_merchant(user)})
    merchants = dashboard_merchants(user).order_by("name")
    return render(request, "home.html", {"merchants": merchants})
