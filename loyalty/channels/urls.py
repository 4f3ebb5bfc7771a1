from django.urls import path

from . import views

app_name = "channels"

urlpatterns = [
    path("tg/<int:merchant_id>/<str:hook>/", views.telegram_webhook, name="telegram_webhook"),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
