"""Back office for billing: clients, charges, templates, imports, campaigns and dispatches."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.urls import path

from billing.dispatch import services as dispatch_services
from billing.dispatch.export import campaign_export_response
from billing.models import (
    Agreement,
    Campaign,
    Charge,
    ChargeStatusChange,
    Client,
    Dispatch,
    ImportBatch,
    MessageTemplate,
    NegotiationPolicy,
    PacingState,
    PromiseToPay,
    SuppressedPhone,
    SuppressionLift,
)
from billing.payments.operator_confirm import charge_confirm_payment
from billing.regua.admin import ReguaEntryInline
from billing.services import charge_cancel, client_opt_out
from billing.suppression import LIFT_PERMISSION, suppression_lift
from cobranca.admin_utils import export_csv_response, json_table
from cobranca.audit import client_ip
from cobranca.exceptions import ApplicationError
from cobranca.masking import mask_document
from cobranca.privacy import forget_clients_action


class ChargeInline(admin.TabularInline):
    model = Charge
    extra = 0
    fields = ("external_id", "amount", "due_date", "status", "description")
    readonly_fields = ("status",)
    show_change_link = True


@admin.register(Client)
class ClientAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "masked_phone",
        "masked_document",
        "chat_id",
        "open_charges",
        "opted_out_at",
        "wrong_number",
        "not_on_whatsapp",
    )
    list_filter = ("wrong_number", "not_on_whatsapp", ("opted_out_at", admin.EmptyFieldListFilter))
    search_fields = ("name", "phone", "document", "external_id", "chat_id")
    readonly_fields = (
        "chat_id",
        "lid",
        "whatsapp_checked_at",
        "opted_out_at",
        "forgotten_at",
        "created_at",
        "updated_at",
    )
    inlines = [ChargeInline]
    actions = ["opt_out", "clear_wrong_number", "export_csv", forget_clients_action]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_open=Count("charges", filter=Q(charges__status__in=Charge.OPEN_STATUSES)))
        )

    @admin.display(description="telefone", ordering="phone")
    def masked_phone(self, obj: Client) -> str:
        return obj.masked_phone

    @admin.display(description="CPF/CNPJ")
    def masked_document(self, obj: Client) -> str:
        return mask_document(obj.document)

    @admin.display(description="cobranças abertas", ordering="_open")
    def open_charges(self, obj: Client) -> int:
        return obj._open

    @admin.action(description="Descadastrar (não enviar mais mensagens)")
    def opt_out(self, request, queryset):
        updated = 0
        for client in queryset.filter(opted_out_at__isnull=True, forgotten_at__isnull=True):
            client_opt_out(client=client, by=request.user)
            updated += 1
        self.message_user(request, f"{updated} cliente(s) descadastrado(s).", messages.SUCCESS)

    @admin.action(description="Desmarcar número errado")
    def clear_wrong_number(self, request, queryset):
        updated = queryset.update(wrong_number=False)
        self.message_user(request, f"{updated} cliente(s) atualizados.", messages.SUCCESS)

    @admin.action(description="Exportar CSV")
    def export_csv(self, request, queryset):
        rows = (
            (
                c.pk,
                c.name,
                c.masked_phone,
                mask_document(c.document),
                c.external_id or "",
                "sim" if c.opted_out_at else "não",
                "sim" if c.wrong_number else "não",
            )
            for c in queryset.iterator()
        )
        return export_csv_response(
            "clientes.csv",
            ["id", "nome", "telefone", "documento", "id externo", "descadastrado", "número errado"],
            rows,
        )


class ChargeStatusChangeInline(admin.TabularInline):
    """The charge's status history (written by billing.services.charge_set_status), read-only."""

    model = ChargeStatusChange
    extra = 0
    can_delete = False
    fields = ("created_at", "from_status", "to_status", "reason", "changed_by")
    readonly_fields = fields
    verbose_name_plural = "histórico da situação"

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Charge)
class ChargeAdmin(admin.ModelAdmin):
    list_display = ("external_id", "client", "amount", "due_date", "status", "import_batch")
    inlines = [ChargeStatusChangeInline, ReguaEntryInline]
    list_filter = ("status", "due_date", "import_batch")
    search_fields = ("external_id", "client__name", "client__phone", "description")
    list_select_related = ("client", "import_batch")
    raw_id_fields = ("client",)
    readonly_fields = ("status_changed_at", "paid_at", "created_at", "updated_at")
    date_hierarchy = "due_date"
    actions = ["mark_paid", "mark_cancelled", "export_csv"]

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        if obj is not None and obj.client.forgotten_at:
            # A forgotten client's charges are kept for accounting and never move to someone else: moving one
            # would tie the erased person's financial record to a named client again.
            return (*fields, "client")
        return fields

    @admin.action(description="Marcar como paga")
    def mark_paid(self, request, queryset):
        # Like the dashboard's "Marcar como paga": what was owed is recorded as the operator's payment (the
        # Painel counts it, the debtor is thanked), promises are kept, agreements fulfilled, all audited.
        done, refused = 0, []
        for charge in queryset.exclude(status=Charge.Status.PAID):
            try:
                charge_confirm_payment(charge=charge, by=request.user, ip=client_ip(request))
            except ApplicationError:
                refused.append(charge.external_id or str(charge.pk))
            else:
                done += 1
        self.message_user(request, f"{done} cobrança(s) marcada(s) como paga.", messages.SUCCESS)
        if refused:
            self.message_user(
                request, f"Não é possível marcar como paga: {', '.join(refused[:20])}.", messages.WARNING
            )

    @admin.action(description="Cancelar cobrança")
    def mark_cancelled(self, request, queryset):
        # Through the one service, like "Marcar como paga": history, promises/agreements and audit follow.
        done, refused = 0, []
        for charge in queryset.exclude(status=Charge.Status.CANCELLED):
            try:
                charge_cancel(charge=charge, by=request.user, reason="admin", ip=client_ip(request))
            except ApplicationError:
                refused.append(charge.external_id or str(charge.pk))
            else:
                done += 1
        self.message_user(request, f"{done} cobrança(s) marcada(s) como cancelada.", messages.SUCCESS)
        if refused:
            self.message_user(
                request, f"Não é possível cancelar: {', '.join(refused[:20])}.", messages.WARNING
            )

    @admin.action(description="Exportar CSV")
    def export_csv(self, request, queryset):
        rows = (
            (
                c.external_id or c.pk,
                c.client.name,
                c.client.masked_phone,
                f"{c.amount:.2f}".replace(".", ","),
                c.due_date.strftime("%d/%m/%Y"),
                c.get_status_display(),
                c.description,
            )
            for c in queryset.select_related("client").iterator()
        )
        return export_csv_response(
            "cobrancas.csv",
            ["id", "cliente", "telefone", "valor", "vencimento", "situação", "descrição"],
            rows,
        )


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "title", "is_active", "updated_at")
    list_filter = ("is_active",)
    search_fields = ("name", "title", "body")


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "filename",
        "file_format",
        "total_rows",
        "imported_rows",
        "rejected_rows",
        "created_by",
        "created_at",
    )
    list_filter = ("file_format", "created_at")
    search_fields = ("filename",)
    # The régua its charges follow is the one thing an operator may change on an import.
    readonly_fields = [f.name for f in ImportBatch._meta.fields if f.name not in ("report", "regua")] + [
        "report_pretty"
    ]
    exclude = ("report",)

    @admin.display(description="relatório")
    def report_pretty(self, obj: ImportBatch) -> str:
        return json_table(obj.report)


class DispatchInline(admin.TabularInline):
    model = Dispatch
    extra = 0
    can_delete = False
    fields = ("client", "charge", "status", "reason", "attempts", "sent_at")
    readonly_fields = fields
    show_change_link = True
    max_num = 0


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):
    list_display = ("name", "template", "status", "session_name", "total", "sent_count", "created_at")
    list_filter = ("status", "session_name", "created_at")
    search_fields = ("name", "template__name")
    list_select_related = ("template",)
    # The status is never edited by hand: it changes through the lifecycle services (the actions below, the
    # dashboard's buttons), which queue, pause or discard the dispatches with it.
    readonly_fields = (
        "status",
        "total",
        "started_at",
        "finished_at",
        "created_at",
        "created_by",
        "pause_reason",
    )
    actions = [
        "start_campaigns",
        "pause_campaigns",
        "resume_campaigns",
        "cancel_campaigns",
        "export_dispatches_csv",
    ]

    def _transition(self, request, queryset, service: str, done: str) -> None:
        ok = 0
        for campaign in queryset:
            try:
                getattr(dispatch_services, service)(campaign=campaign, by=request.user)
            except ApplicationError as exc:
                self.message_user(request, f"{campaign.name}: {exc.message}", messages.ERROR)
            else:
                ok += 1
        if ok:
            self.message_user(request, f"{ok} campanha(s) {done}.", messages.SUCCESS)

    @admin.action(description="Iniciar campanhas selecionadas", permissions=["change"])
    def start_campaigns(self, request, queryset):
        self._transition(request, queryset, "campaign_start", "iniciada(s)")

    @admin.action(description="Pausar campanhas selecionadas", permissions=["change"])
    def pause_campaigns(self, request, queryset):
        self._transition(request, queryset, "campaign_pause", "pausada(s)")

    @admin.action(description="Retomar campanhas selecionadas", permissions=["change"])
    def resume_campaigns(self, request, queryset):
        self._transition(request, queryset, "campaign_resume", "retomada(s)")

    @admin.action(description="Cancelar campanhas selecionadas", permissions=["cancel"])
    def cancel_campaigns(self, request, queryset):
        self._transition(request, queryset, "campaign_cancel", "cancelada(s)")

    def has_cancel_permission(self, request) -> bool:
        # The same permission as the API's cancel (cobranca/roles.py): change_campaign alone does not cancel.
        return request.user.has_perm("billing.cancel_campaign")

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _sent=Count("dispatches", filter=Q(dispatches__status__in=["sent", "delivered", "read"]))
            )
        )

    @admin.display(description="enviadas", ordering="_sent")
    def sent_count(self, obj: Campaign) -> int:
        return obj._sent

    @admin.action(description="Exportar envios (CSV)")
    def export_dispatches_csv(self, request, queryset):
        return campaign_export_response(queryset, filename="envios.csv")


@admin.register(Dispatch)
class DispatchAdmin(admin.ModelAdmin):
    list_display = ("id", "campaign", "client", "status", "reason", "attempts", "sent_at")
    list_filter = ("status", "campaign")
    search_fields = ("client__name", "client__phone", "waha_message_id", "charge__external_id")
    list_select_related = ("campaign", "client")
    raw_id_fields = ("campaign", "charge", "client")
    readonly_fields = (
        "waha_message_id",
        "claimed_at",
        "sent_at",
        "delivered_at",
        "read_at",
        "created_at",
        "updated_at",
        "body",
    )


@admin.register(PromiseToPay)
class PromiseToPayAdmin(admin.ModelAdmin):
    list_display = ("charge", "promised_date", "amount", "status", "follow_up_at", "created_at")
    list_filter = ("status", "promised_date")
    search_fields = ("charge__external_id", "charge__client__name")
    raw_id_fields = ("charge",)


@admin.register(Agreement)
class AgreementAdmin(admin.ModelAdmin):
    list_display = (
        "charge",
        "installments",
        "installment_amount",
        "total_amount",
        "discount_percent",
        "status",
        "first_due_date",
    )
    list_filter = ("status",)
    search_fields = ("charge__external_id", "charge__client__name")
    raw_id_fields = ("charge",)


@admin.register(NegotiationPolicy)
class NegotiationPolicyAdmin(admin.ModelAdmin):
    list_display = ("max_installments", "min_installment_amount", "max_discount_percent", "updated_at")


@admin.register(PacingState)
class PacingStateAdmin(admin.ModelAdmin):
    list_display = ("session_name", "next_send_at", "day", "sent_today", "last_sent_at")
    readonly_fields = ("session_name", "next_send_at", "day", "sent_today", "last_sent_at")


class SuppressionLiftForm(forms.Form):
    phone = forms.CharField(label="Telefone", max_length=40)
    consent_at = forms.DateTimeField(
        label="Consentimento dado em", help_text="Data e hora em que o titular consentiu (dd/mm/aaaa hh:mm)."
    )
    consent_channel = forms.CharField(label="Canal do consentimento", max_length=100)
    justification = forms.CharField(label="Motivo", widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


@admin.register(SuppressedPhone)
class SuppressedPhoneAdmin(admin.ModelAdmin):
    """The list holds only keyed hashes: nothing to edit, nothing to search by name. Entries leave it only
    through the lift form below (permission `billing.lift_suppressedphone`, with the debtor's consent)."""

    list_display = ("short_hash", "reason", "created_at")
    list_filter = ("reason",)
    readonly_fields = ("phone_hash", "number_hash", "reason", "created_by", "created_at")

    @admin.display(description="hash")
    def short_hash(self, obj: SuppressedPhone) -> str:
        return f"{obj.number_hash[:12]}…"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        lift = self.admin_site.admin_view(self.lift_view)
        return [path("reativar/", lift, name="billing_suppressedphone_lift"), *super().get_urls()]

    def lift_view(self, request):
        if not request.user.has_perm(LIFT_PERMISSION):
            raise PermissionDenied
        form = SuppressionLiftForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                suppression_lift(by=request.user, ip=client_ip(request), **form.cleaned_data)
            except ApplicationError as exc:
                form.add_error(None, exc.message)
                for field, problem in (exc.extra or {}).items():
                    if field in form.fields:
                        form.add_error(field, str(problem))
            else:
                self.message_user(request, "Número reativado; consentimento registrado.", messages.SUCCESS)
                return redirect("admin:billing_suppressionlift_changelist")
        title = "Reativar número suprimido"
        context = {**self.admin_site.each_context(request), "title": title, "form": form}
        return render(request, "admin/billing/suppression_lift.html", context)


@admin.register(SuppressionLift)
class SuppressionLiftAdmin(admin.ModelAdmin):
    list_display = ("created_at", "lifted_by", "consent_at", "consent_channel", "previous_reason")
    readonly_fields = (
        "number_hash",
        "previous_reason",
        "consent_at",
        "consent_channel",
        "justification",
        "lifted_by",
        "created_at",
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# Payments, Pix charges, the PSP's notifications and the payments queue have their own modules (this one is
# near the size limit).
from billing import admin_payment_issues, admin_payments, admin_receipts  # noqa: E402, F401
