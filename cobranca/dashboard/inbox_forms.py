"""Forms of the team inbox: assignment, canned replies (pick and edit), the chat's quick actions."""

from __future__ import annotations

from decimal import Decimal

from django import forms

from billing.money import AmountError, parse_brl_amount
from cobranca.dashboard.formatting import charge_option
from cobranca.dashboard.forms import DATE_INPUT, BootstrapMixin

ME = "eu"
NOBODY = "ninguem"


def _optional_id(value: str) -> int | None:
    return int(value) if value not in ("", None) else None


class AssignForm(forms.Form):
    """`para`: "eu", "ninguem" or an operator's id; `esperado`: the owner the page showed ("" for none), so a
    change made meanwhile by someone else is refused instead of overwritten."""

    para = forms.CharField(max_length=20)
    esperado = forms.TypedChoiceField(required=False, coerce=_optional_id, empty_value=None)

    def __init__(self, *args, operator_ids: list[int] = (), **kwargs):
        super().__init__(*args, **kwargs)
        self.operator_ids = set(operator_ids)
        self.fields["esperado"].choices = [("", "ninguém"), *((str(i), str(i)) for i in operator_ids)]

    def clean_para(self) -> str | int:
        value = self.cleaned_data["para"]
        if value in (ME, NOBODY):
            return value
        if value.isdigit() and int(value) in self.operator_ids:
            return int(value)
        raise forms.ValidationError("Escolha um operador da lista.")


class ChargeChoiceForm(BootstrapMixin, forms.Form):
    """A charge of the conversation's debtor (the choices are his charges)."""

    cobranca = forms.TypedChoiceField(label="Cobrança", coerce=int)

    def __init__(self, *args, charges=(), required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["cobranca"]
        field.required = required
        field.empty_value = None
        field.choices = [("", "Escolha a cobrança")] + [(c.pk, charge_option(c)) for c in charges]
        if len(charges) == 1:  # the only open charge: nothing to choose (operator test)
            field.initial = charges[0].pk


class CannedPickForm(ChargeChoiceForm):
    resposta = forms.TypedChoiceField(label="Resposta pronta", coerce=int)

    def __init__(self, *args, canned=(), **kwargs):
        super().__init__(*args, required=False, **kwargs)
        self.fields["resposta"].choices = [("", "Escolha uma resposta")] + [(c.pk, c.title) for c in canned]
        self.order_fields(["resposta", "cobranca"])


class PromiseForm(ChargeChoiceForm):
    data = forms.DateField(label="Data prometida", widget=DATE_INPUT)
    valor = forms.CharField(
        label="Valor (vazio: o total)",
        required=False,
        max_length=30,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "placeholder": "ex.: 150,00"}),
    )

    def clean_valor(self) -> Decimal | None:
        raw = (self.cleaned_data.get("valor") or "").strip()
        if not raw:
            return None
        try:
            return parse_brl_amount(raw)  # "150,00", "1.234,56", "150.5": the importer's rules
        except AmountError as exc:
            raise forms.ValidationError(f"Valor inválido: {exc}.") from None


class CannedReplyForm(BootstrapMixin, forms.Form):
    titulo = forms.CharField(label="Título", max_length=80)
    texto = forms.CharField(
        label="Texto",
        max_length=4096,
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": "Olá {first_name}! Segue o PIX de {amount}: {pix}"}
        ),
    )
    ativa = forms.BooleanField(label="Ativa", required=False, initial=True)
