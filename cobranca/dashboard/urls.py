"""Dashboard URLs, mounted by cobranca/urls.py at /painel/ (the WhatsApp page lives in whatsapp/urls.py)."""

from __future__ import annotations

from django.urls import path

from cobranca.dashboard import views

app_name = "dashboard"

urlpatterns = [
    path("", views.painel, name="painel"),
    path("cobranca/", views.cobranca, name="cobranca"),
    path("cobranca/importar/", views.import_dry_run, name="import-dry-run"),
    path("cobranca/importar/confirmar/", views.import_confirm, name="import-confirm"),
    path("cobranca/campanhas/nova/", views.campaign_new, name="campaign-new"),
    path("cobranca/campanhas/previa/", views.campaign_preview, name="campaign-preview"),
    path("cobranca/campanhas/<int:pk>/", views.campaign_detail, name="campaign-detail"),
    path("cobranca/campanhas/<int:pk>/progresso/", views.campaign_progress, name="campaign-progress"),
    path("cobranca/campanhas/<int:pk>/exportar.csv", views.campaign_export, name="campaign-export"),
    path("cobranca/campanhas/<int:pk>/<slug:action>/", views.campaign_action, name="campaign-action"),
    path("cobranca/envios/<int:pk>/reenviar/", views.dispatch_resend, name="dispatch-resend"),
    path("conversas/", views.inbox, name="inbox"),
    path("conversas/<int:pk>/", views.conversation_detail, name="conversation"),
    path("conversas/<int:pk>/responder/", views.conversation_reply, name="conversation-reply"),
    path("conversas/<int:pk>/assumir/", views.conversation_take_over, name="conversation-take-over"),
    path("conversas/<int:pk>/devolver/", views.conversation_give_back, name="conversation-give-back"),
    path("conversas/mensagens/<int:pk>/intencao/", views.message_correct_intent, name="message-intent"),
    path("templates/", views.template_list, name="templates"),
    path("templates/novo/", views.template_edit, name="template-new"),
    path("templates/previa/", views.template_preview, name="template-preview"),
    path("templates/<int:pk>/", views.template_edit, name="template-edit"),
    path("sistema/", views.sistema, name="sistema"),
    path("sistema/envios-hoje.json", views.sends_today, name="sends-today"),
]
