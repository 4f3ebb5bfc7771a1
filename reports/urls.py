from django.urls import path

from . import views
from .owner_page import owner_page

app_name = "reports"
urlpatterns = [
    path("dashboard/", views.portfolio, name="portfolio"),
    path("dashboard/<slug:slug>/", views.dashboard, name="dashboard"),
    path("dashboard/<slug:slug>/export.xlsx", views.dashboard_xlsx, name="dashboard_xlsx"),
    path(
        "dashboard/<slug:slug>/segments/<slug:segment>.<str:fmt>",
        views.segment_export,
        name="segment_export",
    ),
    path("dashboard/<slug:slug>/report/", views.case_study, name="case_study"),
    path("dashboard/<slug:slug>/owner/<str:token>/", owner_page, name="owner_page"),
]
