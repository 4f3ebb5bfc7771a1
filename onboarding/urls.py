from django.urls import path

from . import views

app_name = "onboarding"
urlpatterns = [
    path("quiz/<str:token>/", views.quiz_home, name="quiz_home"),
    path("quiz/<str:token>/<int:module_id>/", views.quiz_take, name="quiz_take"),
    path(
        "quiz/<str:token>/result/<int:attestation_id>/",
        views.quiz_result,
        name="quiz_result",
    ),
]
