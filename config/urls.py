from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from onboarding import views as onboarding_views
from onboarding.admin_pages import admin_search

# The admin modules are discovered here, by whatever process serves or reverses URLs, not at
# every Django start-up (config.apps).
admin.autodiscover()

urlpatterns = [
    path("", onboarding_views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The one-time set-password link of an invited owner or cashier (onboarding.people).
    path(
        "accounts/set-password/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="registration/set_password.html",
            post_reset_login=True,
            post_reset_login_backend="django.contrib.auth.backends.ModelBackend",
        ),
        name="password_reset_confirm",
    ),
    path(
        "accounts/set-password/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="registration/set_password_done.html"
        ),
        name="password_reset_complete",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    # Before the admin's own route: its search view fails on a page that is not a number.
    path("admin/search/", admin_search),
    path("admin/", admin.site.urls),
    path("", include("onboarding.urls")),
    path("", include("loyalty.urls")),
    path("", include("loyalty.channels.urls")),
    path("", include("crm.urls")),
    path("", include("reports.urls")),
    path("", include("cards.urls")),
]
