from django.urls import path, re_path

from . import views
from .pos import views as pos_views

app_name = "loyalty"
urlpatterns = [
    path("cashier/<slug:slug>/", views.cashier_home, name="cashier"),
    path("cashier/<slug:slug>/purchase/", views.cashier_purchase, name="cashier_purchase"),
    path("cashier/<slug:slug>/register/", views.cashier_register, name="cashier_register"),
    path("cashier/<slug:slug>/purchases/", views.cashier_purchases, name="cashier_purchases"),
    path(
        "cashier/<slug:slug>/purchases/<int:pk>/refund/",
        views.cashier_refund,
        name="cashier_refund",
    ),
    # POS webhooks: Evotor calls the paths below its base URL without a trailing slash.
    re_path(
        r"^pos/evotor/user/(?P<action>create|verify)/?$", pos_views.evotor_user, name="evotor_user"
    ),
    re_path(
        r"^pos/evotor/api/v1/inventories/stores/(?P<store_uuid>[0-9A-Za-z-]+)/documents/?$",
        pos_views.evotor_documents,
        name="evotor_documents",
    ),
    re_path(r"^pos/evotor/api/v2/receipts/?$", pos_views.evotor_receipts, name="evotor_receipts"),
    re_path(r"^pos/poster/?$", pos_views.poster_webhook, name="poster_webhook"),
    # Registered adapters (loyalty.pos.adapters); after the fixed vendor paths above.
    re_path(
        r"^pos/(?P<system>[a-z0-9_]{1,10})/?$", pos_views.pos_adapter_webhook, name="pos_adapter"
    ),
]
