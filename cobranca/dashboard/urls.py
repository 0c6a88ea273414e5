"""Dashboard URLs, mounted by cobranca/urls.py at /painel/; one views module per page."""

from __future__ import annotations

from django.urls import path

from cobranca.dashboard.views import (
    campaigns,
    cobranca,
    debtors,
    inbox,
    inbox_team,
    painel,
    payments,
    receipts,
    regua,
    sessions,
    system,
    templates,
)

app_name = "dashboard"

urlpatterns = [
    path("", painel.painel, name="painel"),
    path("cobranca/", cobranca.cobranca, name="cobranca"),
    path("cobranca/importar/", cobranca.import_dry_run, name="import-dry-run"),
    path("cobranca/importar/confirmar/", cobranca.import_confirm, name="import-confirm"),
    path("cobranca/importar/colunas/", cobranca.import_remap, name="import-remap"),
    path("cobranca/importar/modelo.<str:fmt>", cobranca.import_sample, name="import-sample"),
    path(
        "cobranca/importacoes/<int:pk>/rejeitadas.csv",
        cobranca.import_rejected_csv,
        name="import-rejected",
    ),
    path("cobranca/campanhas/nova/", campaigns.campaign_new, name="campaign-new"),
    path("cobranca/campanhas/previa/", campaigns.campaign_preview, name="campaign-preview"),
    path("cobranca/campanhas/<int:pk>/", campaigns.campaign_detail, name="campaign-detail"),
    path("cobranca/campanhas/<int:pk>/progresso/", campaigns.campaign_progress, name="campaign-progress"),
    path("cobranca/campanhas/<int:pk>/exportar.csv", campaigns.campaign_export, name="campaign-export"),
    path("cobranca/campanhas/<int:pk>/<slug:action>/", campaigns.campaign_action, name="campaign-action"),
    path("cobranca/envios/<int:pk>/reenviar/", campaigns.dispatch_resend, name="dispatch-resend"),
    path("devedores/", debtors.debtor_list, name="debtors"),
    path("devedores/<int:pk>/", debtors.debtor_detail, name="debtor"),
    path("devedores/<int:pk>/linha-do-tempo/", debtors.debtor_timeline, name="debtor-timeline"),
    path("devedores/<int:pk>/conversa/", debtors.debtor_conversation, name="debtor-conversation"),
    path("devedores/<int:pk>/descadastrar/", debtors.debtor_opt_out, name="debtor-opt-out"),
    path("devedores/<int:pk>/dados-lgpd.json", debtors.debtor_export, name="debtor-export"),
    path(
        "devedores/<int:pk>/cobrancas/<int:charge_pk>/pagar/",
        debtors.charge_mark_paid,
        name="debtor-charge-paid",
    ),
    path(
        "devedores/<int:pk>/cobrancas/<int:charge_pk>/cancelar/",
        debtors.charge_cancel,
        name="debtor-charge-cancel",
    ),
    path("devedores/<int:pk>/cobrancas/<int:charge_pk>/pix/", debtors.charge_pix, name="debtor-charge-pix"),
    path("pagamentos/extratos/", payments.statement_upload, name="statement-upload"),
    path("pagamentos/extratos/<int:pk>/", payments.statement_job, name="statement-job"),
    path(
        "pagamentos/extratos/<int:pk>/progresso/",
        payments.statement_job_progress,
        name="statement-job-progress",
    ),
    path("pagamentos/pendencias/", payments.issue_list, name="payment-issues"),
    path("pagamentos/pendencias/contagem/", payments.issue_count, name="payment-issue-count"),
    path("pagamentos/pendencias/<int:pk>/<slug:action>/", payments.issue_action, name="payment-issue-action"),
    path("regua/", regua.regua_page, name="regua"),
    path("regua/<slug:slug>/<slug:action>/", regua.regua_action, name="regua-action"),
    path("conversas/", inbox.inbox, name="inbox"),
    path("conversas/<int:pk>/", inbox.conversation_detail, name="conversation"),
    path("conversas/<int:pk>/responder/", inbox.conversation_reply, name="conversation-reply"),
    path("conversas/<int:pk>/assumir/", inbox.conversation_take_over, name="conversation-take-over"),
    path("conversas/<int:pk>/devolver/", inbox.conversation_give_back, name="conversation-give-back"),
    path("conversas/anexos/<int:pk>/", inbox.attachment_file, name="attachment"),
    path("conversas/comprovantes/<int:pk>/confirmar/", receipts.receipt_confirm, name="receipt-confirm"),
    path("conversas/comprovantes/<int:pk>/rejeitar/", receipts.receipt_reject, name="receipt-reject"),
    path("conversas/<int:pk>/atribuir/", inbox_team.conversation_assign, name="conversation-assign"),
    path("conversas/<int:pk>/resposta-pronta/", inbox_team.canned_reply_insert, name="canned-reply-insert"),
    path(
        "conversas/<int:pk>/resposta-pronta/enviar/", inbox_team.canned_reply_send, name="canned-reply-send"
    ),
    path("conversas/<int:pk>/pix/", inbox_team.conversation_send_pix, name="conversation-pix"),
    path("conversas/<int:pk>/pagamento/", inbox_team.conversation_confirm_payment, name="conversation-paid"),
    path(
        "conversas/<int:pk>/promessa/", inbox_team.conversation_register_promise, name="conversation-promise"
    ),
    path("conversas/respostas-prontas/", inbox_team.canned_replies, name="canned-replies"),
    path("conversas/respostas-prontas/<int:pk>/", inbox_team.canned_replies, name="canned-reply-edit"),
    path("conversas/mensagens/<int:pk>/intencao/", inbox.message_correct_intent, name="message-intent"),
    path("templates/", templates.template_list, name="templates"),
    path("templates/novo/", templates.template_edit, name="template-new"),
    path("templates/previa/", templates.template_preview, name="template-preview"),
    path("templates/<int:pk>/", templates.template_edit, name="template-edit"),
    path("whatsapp/", sessions.sessions_page, name="whatsapp-sessions"),
    path("whatsapp/status.json", sessions.sessions_status_json, name="whatsapp-sessions-status"),
    path("whatsapp/qr.png", sessions.session_qr_png, name="whatsapp-session-qr"),
    path("whatsapp/start", sessions.session_start, name="whatsapp-session-start"),
    path("whatsapp/stop", sessions.session_stop, name="whatsapp-session-stop"),
    path("sistema/", system.sistema, name="sistema"),
    path("sistema/envios-hoje.json", system.sends_today, name="sends-today"),
]
