from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from billing.payments.pix_webhook import pix_webhook
from cobranca import auth_apis, metrics, views
from cobranca.ratelimit import login_attempts_limited

admin.site.site_header = "Cobrança Inteligente"
admin.site.site_title = "Cobrança Inteligente"
admin.site.index_title = "Retaguarda"
_SITE = {"site_header": admin.site.site_header, "site_title": admin.site.site_title}

urlpatterns = [
    path("", views.home, name="home"),
    path("health", views.health, name="health"),
    # The PSP's payment webhook (early: a hot path); the token is a path segment, the PSP appends "/pix".
    path("webhook/pix/<str:token>/pix", pix_webhook, name="pix-webhook"),
    # Browsers ask for /favicon.ico on pages without a <link rel="icon"> (the admin, API docs): no 404.
    path("favicon.ico", views.favicon),
    # Before admin.site.urls so that the admin's own login is limited like the others (cobranca.ratelimit).
    path("admin/login/", login_attempts_limited(admin.site.login), name="admin-login"),
    path("admin/", admin.site.urls),
    path("accounts/login/", login_attempts_limited(auth_views.LoginView.as_view()), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # Password reset by e-mail (Django's views and the admin's templates): never blocked by the login limit.
    path(
        "accounts/password_reset/",
        auth_views.PasswordResetView.as_view(extra_context=_SITE),
        name="password_reset",
    ),
    path(
        "accounts/password_reset/done/",
        auth_views.PasswordResetDoneView.as_view(extra_context=_SITE),
        name="password_reset_done",
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(extra_context=_SITE),
        name="password_reset_confirm",
    ),
    path(
        "accounts/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(extra_context=_SITE),
        name="password_reset_complete",
    ),
    path("auth/login", auth_apis.LoginApi.as_view(), name="auth-login"),
    path("auth/refresh", auth_apis.RefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout", auth_apis.LogoutApi.as_view(), name="auth-logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI without an inline script (CSP default-src 'self').
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("painel/", include("cobranca.dashboard.urls")),
    path("api/billing/", include("billing.urls")),
    path("api/chat/", include("chatbot.urls")),
    path("api/conversations/", include("conversations.urls")),
    path("api/", include("cobranca.resources.urls")),
    path("", include("whatsapp.urls")),
]
