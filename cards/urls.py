from django.urls import path

from . import views, views_staff

app_name = "cards"
urlpatterns = [
    path("c/<slug:slug>/", views.join, name="join"),
    path("c/<slug:slug>/verify/", views.verify, name="verify"),
    path("c/<slug:slug>/signin/", views.signin, name="signin"),
    path("c/<slug:slug>/m/<str:token>/", views.magic, name="magic"),
    path("c/<slug:slug>/signout/", views.signout, name="signout"),
    path("c/<slug:slug>/card/", views.card, name="card"),
    path("c/<slug:slug>/history/", views.history, name="history"),
    path("c/<slug:slug>/invite/", views.invite, name="invite"),
    path("c/<slug:slug>/inbox/", views.inbox, name="inbox"),
    path("c/<slug:slug>/feedback/<int:pk>/", views.feedback, name="feedback"),
    path("c/<slug:slug>/consent/", views.consent, name="consent"),
    path("c/<slug:slug>/push/subscribe/", views.push_subscribe, name="push_subscribe"),
    path("c/<slug:slug>/logo/", views.logo, name="logo"),
    path("c/<slug:slug>/poster/", views_staff.poster, name="poster"),
    path("c/<slug:slug>/poster.<str:fmt>", views_staff.poster, name="poster_file"),
    path(
        "cashier/<slug:slug>/partner-code/", views_staff.till_partner_code, name="till_partner_code"
    ),
]
