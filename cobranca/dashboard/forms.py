"""Dashboard forms: input parsing and validation only; the writes happen in the apps' services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils import timezone

from billing.dispatch.window import ALWAYS
from billing.importing.columns import FIELD_CHOICES
from billing.models import Charge, ImportBatch, MessageTemplate
from cobranca.dashboard.formatting import INTENT_LABELS, send_window_pt
from conversations.models import Conversation
from whatsapp.models import WahaSession

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class _ClassOnInputs:
    """Bootstrap class on each input only: Django puts the widget's class on the wrapper too, and a
    `form-check-input` wrapper is a 1em box the options spill out of, over the next fields."""

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"] = {k: v for k, v in context["widget"]["attrs"].items() if k != "class"}
        return context


class CheckboxList(_ClassOnInputs, forms.CheckboxSelectMultiple):
    pass


class RadioList(_ClassOnInputs, forms.RadioSelect):
    pass


class BootstrapMixin:
    """Give every widget its Bootstrap class so templates render `{{ field }}` without style attributes."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, (forms.CheckboxSelectMultiple, forms.RadioSelect)):
                css = "form-check-input"
            elif isinstance(widget, forms.CheckboxInput):
                css = "form-check-input"
            elif isinstance(widget, forms.Select):
                css = "form-select"
            else:
                css = "form-control"
            widget.attrs["class"] = (widget.attrs.get("class", "") + " " + css).strip()


class PeriodForm(BootstrapMixin, forms.Form):
    inicio = forms.DateField(label="De", required=False, widget=DATE_INPUT)
    fim = forms.DateField(label="Até", required=False, widget=DATE_INPUT)

    def clean(self):
        data = super().clean()
        start, end = data.get("inicio"), data.get("fim")
        if start and end and start > end:
            raise forms.ValidationError("A data inicial deve ser anterior à final.")
        if start and end and (end - start).days > 366:
            raise forms.ValidationError("Escolha um período de até um ano.")
        return data


class UploadForm(BootstrapMixin, forms.Form):
    # The size limit (MAX_UPLOAD_MB) is enforced for every request by RequestBodyLimitMiddleware, before the
    # file is received; a form check here would come after the whole file was read.
    arquivo = forms.FileField(
        label="Arquivo de devedores (CSV, XLSX ou JSON)",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,.json,text/csv,application/json"}),
    )

    def clean_arquivo(self):
        upload = self.cleaned_data["arquivo"]
        name = upload.name.lower()
        if not name.endswith((".csv", ".xlsx", ".json", ".txt")):
            raise forms.ValidationError("Envie um arquivo .csv, .xlsx ou .json.")
        return upload


class ImportConfirmForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)
    ignorar_invalidas = forms.BooleanField(
        label="Importar só as linhas válidas (as rejeitadas ficam num CSV para correção)", required=False
    )


class ColumnMappingForm(BootstrapMixin, forms.Form):
    """One select per unknown column of the uploaded spreadsheet: which field it holds (or ignore it).
    `columns` is the report's `columns["unknown"]` list; each select starts on the field in force."""

    PREFIX = "coluna__"
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, columns: list[dict] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.columns = columns or []
        choices = [("", "Ignorar esta coluna"), *FIELD_CHOICES]
        for column in self.columns:
            self.fields[self.PREFIX + column["key"]] = forms.ChoiceField(
                label=column["header"], choices=choices, required=False, initial=column.get("field", "")
            )
            self.fields[self.PREFIX + column["key"]].widget.attrs["class"] = "form-select form-select-sm"

    def column_fields(self):
        return [self[name] for name in self.fields if name.startswith(self.PREFIX)]

    def mapping(self) -> dict[str, str]:
        """Normalised column → field, from the submitted selects (the service drops unknown names)."""
        return {
            name[len(self.PREFIX) :]: value or ""
            for name, value in self.data.items()
            if name.startswith(self.PREFIX) and isinstance(value, str)
        }


class SegmentForm(BootstrapMixin, forms.Form):
    """Audience filters; `segment()` turns them into the JSON billing.segments understands."""

    importacao = forms.ModelChoiceField(
        label="Importação",
        queryset=ImportBatch.objects.order_by("-created_at"),
        required=False,
        empty_label="Todas as importações",
    )
    situacoes = forms.MultipleChoiceField(
        label="Situação da cobrança",
        choices=[(s.value, s.label) for s in Charge.Status if s not in Charge.NO_REMINDER_STATUSES],
        required=False,
        widget=CheckboxList,
    )
    atraso_min = forms.IntegerField(label="Atraso mínimo (dias)", required=False, min_value=0)
    atraso_max = forms.IntegerField(label="Atraso máximo (dias)", required=False, min_value=0)
    valor_min = forms.DecimalField(
        label="Valor mínimo (R$)", required=False, min_value=Decimal("0"), decimal_places=2
    )
    valor_max = forms.DecimalField(
        label="Valor máximo (R$)", required=False, min_value=Decimal("0"), decimal_places=2
    )

    def segment(self) -> dict:
        data = self.cleaned_data
        segment: dict = {}
        if data.get("situacoes"):
            segment["statuses"] = list(data["situacoes"])
        if data.get("atraso_min") is not None:
            segment["min_days_overdue"] = data["atraso_min"]
        if data.get("atraso_max") is not None:
            segment["max_days_overdue"] = data["atraso_max"]
        if data.get("valor_min") is not None:
            segment["min_amount"] = str(data["valor_min"])
        if data.get("valor_max") is not None:
            segment["max_amount"] = str(data["valor_max"])
        return segment


def _pace_label(delay) -> str:
    delay = float(delay)
    per_hour = f"{int(3600 // delay)} msg/h" if delay > 0 else "sem pausa"
    return f"1 a cada {delay:g} s ({per_hour})"


# Pace presets: (label, delay s, jitter s); the label says the messages per hour (3600 / delay).
PACE_PRESETS = {
    key: (f"{name} — {_pace_label(delay)}", delay, jitter)
    for key, name, delay, jitter in (
        ("cauteloso", "Cauteloso", "60", "20"),
        ("normal", "Normal", "30", "10"),
        ("rapido", "Rápido", "15", "5"),
    )
}
WEEKDAYS_PT = ("seg", "ter", "qua", "qui", "sex", "sáb", "dom")
WINDOW_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class CampaignForm(SegmentForm):
    nome = forms.CharField(label="Nome da campanha", max_length=200, required=False)
    modelo = forms.ModelChoiceField(
        label="Modelo de mensagem", queryset=MessageTemplate.objects.filter(is_active=True).order_by("name")
    )  # options read as the template's display name (MessageTemplate.__str__)
    sessao = forms.ChoiceField(label="Sessão do WhatsApp", required=False)
    ritmo = forms.ChoiceField(
        label="Ritmo de envio",
        initial="padrao",
        widget=RadioList,
        required=False,
    )
    intervalo = forms.DecimalField(
        label="Intervalo entre envios (segundos)",
        min_value=Decimal("0"),
        max_digits=8,
        decimal_places=2,
        required=False,
        help_text="Só no ritmo personalizado.",
    )
    variacao = forms.DecimalField(
        label="Variação aleatória (segundos)",
        min_value=Decimal("0"),
        max_digits=8,
        decimal_places=2,
        required=False,
    )
    janela_sempre = forms.BooleanField(label="Enviar a qualquer hora (sem janela)", required=False)
    janela_dias = forms.MultipleChoiceField(
        label="Dias de envio",
        choices=list(enumerate(WEEKDAYS_PT)),
        widget=CheckboxList,
        required=False,
        help_text="Nenhum dia marcado = janela padrão do sistema.",
    )
    janela_inicio = forms.TimeField(
        label="Das", required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    janela_fim = forms.TimeField(
        label="Até", required=False, widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    limite_diario = forms.IntegerField(label="Limite diário", min_value=1, required=False)
    inicio = forms.DateTimeField(
        label="Início (vazio = assim que iniciada)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M"],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        statuses = dict(WahaSession.objects.values_list("name", "status"))
        names = sorted({settings.WAHA_SESSION_NAME, *statuses})
        labels = dict(WahaSession.Status.choices)
        self.fields["sessao"].choices = [
            (name, f"{name} — {labels.get(statuses[name], statuses[name])}" if name in statuses else name)
            for name in names
        ]
        self.fields["sessao"].initial = settings.WAHA_SESSION_NAME
        self.fields["ritmo"].choices = [
            ("padrao", f"Padrão do sistema — {_pace_label(settings.DISPATCH_DELAY_SECONDS)}"),
            *((key, label) for key, (label, _delay, _jitter) in PACE_PRESETS.items()),
            ("personalizado", "Personalizado"),
        ]
        self.fields["intervalo"].initial = Decimal(str(settings.DISPATCH_DELAY_SECONDS))
        self.fields["variacao"].initial = Decimal(str(settings.DISPATCH_JITTER_SECONDS))
        self.fields[
            "janela_dias"
        ].help_text = f"Nenhum dia marcado = janela padrão do sistema ({send_window_pt('')})."
        self.fields["janela_inicio"].initial = dt.time(8, 0)
        self.fields["janela_fim"].initial = dt.time(20, 0)

    def pace(self) -> tuple[Decimal | None, Decimal | None]:
        """(delay, jitter) in seconds: the preset's, or the typed ones for "personalizado"."""
        data = self.cleaned_data
        if data.get("ritmo") == "padrao":
            return Decimal(str(settings.DISPATCH_DELAY_SECONDS)), Decimal(
                str(settings.DISPATCH_JITTER_SECONDS)
            )
        preset = PACE_PRESETS.get(data.get("ritmo") or "")
        if preset is not None:
            return Decimal(preset[1]), Decimal(preset[2])
        return data.get("intervalo"), data.get("variacao")

    def send_window(self) -> str:
        """The picker (weekdays + start/end) serialised to billing.dispatch.window's syntax, "" = default."""
        data = self.cleaned_data
        if data.get("janela_sempre"):
            return ALWAYS
        days = sorted(int(d) for d in data.get("janela_dias") or [])
        if not days:
            return ""
        start, end = data.get("janela_inicio"), data.get("janela_fim")
        return f"{','.join(WINDOW_DAYS[d] for d in days)} {start:%H:%M}-{end:%H:%M}"

    def clean_inicio(self):
        value = self.cleaned_data.get("inicio")
        if value is not None and value.tzinfo is None:
            value = timezone.make_aware(value)
        return value

    def clean(self):
        data = super().clean()
        if not data.get("importacao") and not self.segment():
            raise forms.ValidationError("Escolha a audiência: uma importação ou pelo menos um filtro.")
        if data.get("ritmo") == "personalizado" and data.get("intervalo") is None:
            self.add_error("intervalo", "Informe o intervalo do ritmo personalizado.")
        if data.get("janela_dias") and not data.get("janela_sempre"):
            start, end = data.get("janela_inicio"), data.get("janela_fim")
            if start is None or end is None:
                self.add_error("janela_inicio", "Informe o horário de início e de fim da janela.")
            elif start >= end:
                self.add_error("janela_fim", "O fim da janela precisa ser depois do início.")
        return data

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        return {
            "template": data["modelo"],
            "name": data.get("nome") or "",
            "segment": self.segment() or None,
            "import_batch": data.get("importacao"),
            "delay_seconds": self.pace()[0],
            "jitter_seconds": self.pace()[1],
            "session_name": data.get("sessao") or None,
            "starts_at": data.get("inicio"),
            "send_window": self.send_window(),
            "daily_cap": data.get("limite_diario"),
        }


class CampaignStartForm(BootstrapMixin, forms.Form):
    confirmar_conformidade = forms.BooleanField(
        label="Li os avisos de conformidade e quero iniciar mesmo assim", required=False
    )
    confirmar_fora_do_horario = forms.BooleanField(
        label="Sei que é fora do horário usual e quero enviar mesmo assim (CDC art. 42)", required=False
    )


class TemplateForm(BootstrapMixin, forms.Form):
    """Input of the template editor; billing.templating.template_create/update validate and save it."""

    # People name a template in words; the slug integrations use (template_name) is derived from it when left
    # blank (billing.templating.template_slug_for), and kept as it is when an existing template is edited.
    title = forms.CharField(label="Nome do modelo", max_length=200, required=False)
    name = forms.SlugField(
        label="Identificador para integrações (opcional)",
        max_length=100,
        required=False,
        help_text="Letras, números e hífens. Em branco, é gerado a partir do nome.",
    )
    body = forms.CharField(label="Texto", widget=forms.Textarea(attrs={"rows": 10}), max_length=4096)
    is_active = forms.BooleanField(label="Ativo", required=False, initial=True)

    @classmethod
    def for_template(cls, template: MessageTemplate | None, data=None) -> TemplateForm:
        initial = (
            {
                "name": template.name,
                "title": template.title,
                "body": template.body,
                "is_active": template.is_active,
            }
            if template
            else None
        )
        return cls(data, initial=initial)

    def clean(self):
        data = super().clean()
        if not (data.get("title") or "").strip() and not data.get("name") and not self.initial.get("name"):
            self.add_error("title", "Dê um nome ao modelo.")
        return data

    def add_service_errors(self, fields: dict[str, list[str]]) -> None:
        for name, errors in fields.items():
            for error in errors:
                self.add_error(name if name in self.fields else None, error)


class InboxFilterForm(BootstrapMixin, forms.Form):
    q = forms.CharField(label="Nome ou telefone", required=False, max_length=100)
    estado = forms.ChoiceField(
        label="Estado", required=False, choices=[("", "Todos"), *Conversation.State.choices]
    )
    intencao = forms.ChoiceField(
        label="Intenção", required=False, choices=[("", "Todas"), *INTENT_LABELS.items()]
    )
    de = forms.DateField(label="De", required=False, widget=DATE_INPUT)
    ate = forms.DateField(label="Até", required=False, widget=DATE_INPUT)
    campanha = forms.TypedChoiceField(label="Campanha", required=False, coerce=int, empty_value=None)

    def __init__(self, *args, campaigns: list[tuple[int, str]] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["campanha"].choices = [("", "Todas"), *campaigns]

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        d = self.cleaned_data
        return {
            "search": d.get("q") or "",
            "state": d.get("estado") or "",
            "intent": d.get("intencao") or "",
            "date_from": d.get("de"),
            "date_to": d.get("ate"),
            "campaign": d.get("campanha"),
        }


class ReplyForm(BootstrapMixin, forms.Form):
    texto = forms.CharField(
        label="Sua resposta",
        max_length=4096,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Escreva a resposta ao cliente…"}),
    )


class IntentCorrectionForm(BootstrapMixin, forms.Form):
    intencao = forms.ChoiceField(label="Intenção correta", choices=list(INTENT_LABELS.items()))


def default_period_dates(today: dt.date) -> tuple[dt.date, dt.date]:
    return today - dt.timedelta(days=29), today
