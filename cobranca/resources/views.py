"""ViewSets of the REST resources (mounted at /api/ by cobranca/resources/urls.py)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from billing.models import Charge, Client, Dispatch
from billing.payments.operator_confirm import charge_confirm_payment
from cobranca import privacy
from cobranca.audit import client_ip
from cobranca.permissions import ApiModelPermissions, IsApiUser
from cobranca.resources import filters, services
from cobranca.resources.permissions import IsStaff, RoleModelPermissions
from cobranca.resources.serializers import (
    ApiErrorSerializer,
    ChargeInputSerializer,
    ChargeMarkPaidSerializer,
    ChargeOutputSerializer,
    ChargeUpdateSerializer,
    ClientInputSerializer,
    ClientOutputSerializer,
    DispatchOutputSerializer,
)

_ERR = OpenApiResponse(ApiErrorSerializer, description="Erro no formato {message, extra}")
_READ_ERRORS = {401: _ERR, 403: _ERR, 429: _ERR}
_DETAIL_ERRORS = {**_READ_ERRORS, 404: _ERR}
_WRITE_ERRORS = {**_DETAIL_ERRORS, 400: _ERR, 409: _ERR}

CLIENT_EXAMPLE = {
    "id": 42,
    "name": "Maria da Silva",
    "phone": "+5511*****4321",
    "document": "123******09",
    "email": "m***@example.com",
    "external_id": "CLI-0042",
    "opted_out": False,
    "opted_out_at": None,
    "wrong_number": False,
    "not_on_whatsapp": False,
    "forgotten_at": None,
    "created_at": "2026-03-02T10:15:00-03:00",
    "updated_at": "2026-03-02T10:15:00-03:00",
}
CLIENT_INPUT_EXAMPLE = {
    "name": "Maria da Silva",
    "phone": "(11) 98765-4321",
    "document": "123.456.789-09",
    "email": "maria@example.com",
    "external_id": "CLI-0042",
}
CHARGE_EXAMPLE = {
    "id": 7,
    "client": 42,
    "external_id": "FAT-2026-03-0007",
    "amount": "150.50",
    "due_date": "2026-03-10",
    "description": "Mensalidade de março",
    "status": "open",
    "import_batch": None,
    "paid_at": None,
    "status_changed_at": "2026-03-02T10:15:00-03:00",
    "created_at": "2026-03-02T10:15:00-03:00",
    "updated_at": "2026-03-02T10:15:00-03:00",
}
CHARGE_INPUT_EXAMPLE = {
    "client": 42,
    "external_id": "FAT-2026-03-0007",
    "amount": "150.50",
    "due_date": "2026-03-10",
    "description": "Mensalidade de março",
}
ERROR_EXAMPLE = OpenApiExample(
    "conflito",
    value={"message": "Já existe um cliente com este telefone.", "extra": {"field": "phone"}},
    response_only=True,
    status_codes=["409"],
)


def _echo(request) -> dict:
    """Serializer context of a create/update answer: the fields the caller just sent come back as sent (that
    discloses nothing new); the others follow the masking rule of the caller."""
    return {"request": request, "unmasked_fields": set(request.data)}


def _paged(example: dict) -> dict:
    return {"count": 1, "next": None, "previous": None, "results": [example]}


class _ResourceViewSet(viewsets.GenericViewSet):
    """Output serializers mask personal data by the request's user (cobranca.masking.sees_full_contact)."""

    permission_classes = [IsApiUser, ApiModelPermissions, RoleModelPermissions]


@extend_schema_view(
    list=extend_schema(
        summary="Listar clientes",
        description="Telefone, documento e e-mail mascarados para Integradores (LGPD: minimização). "
        "Os filtros `phone` e `document` aceitam o valor completo.",
        responses={200: ClientOutputSerializer(many=True), **_READ_ERRORS},
        examples=[OpenApiExample("lista", value=_paged(CLIENT_EXAMPLE), response_only=True)],
    ),
    retrieve=extend_schema(
        summary="Detalhar cliente",
        responses={200: ClientOutputSerializer, **_DETAIL_ERRORS},
        examples=[OpenApiExample("cliente", value=CLIENT_EXAMPLE, response_only=True)],
    ),
)
class ClientViewSet(_ResourceViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    queryset = Client.objects.order_by("name", "pk")
    serializer_class = ClientOutputSerializer
    filterset_class = filters.ClientFilter
    lookup_value_regex = r"\d+"
    # Forgetting is as irreversible as a delete (create/update: add/change_client, from the model).
    write_permissions = {"forget": ["billing.delete_client"]}

    def get_permissions(self):
        if self.action == "forget":
            return [IsStaff(), ApiModelPermissions()]
        if self.action == "export":
            return [IsStaff()]
        return super().get_permissions()

    @extend_schema(
        summary="Cadastrar cliente",
        description="O telefone é normalizado para E.164 (região BR) e precisa ser único.",
        request=ClientInputSerializer,
        responses={201: ClientOutputSerializer, **_WRITE_ERRORS},
        examples=[
            OpenApiExample("novo cliente", value=CLIENT_INPUT_EXAMPLE, request_only=True),
            OpenApiExample(
                "criado",
                value={**CLIENT_EXAMPLE, "phone": "+5511987654321"},
                response_only=True,
                status_codes=["201"],
            ),
            ERROR_EXAMPLE,
        ],
    )
    def create(self, request):
        data = ClientInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        client = services.client_create(data=data.validated_data, by=request.user, ip=client_ip(request))
        # The creator just sent these values: echoing them back unmasked discloses nothing new.
        return Response(
            ClientOutputSerializer(client, context=_echo(request)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="Atualizar cliente",
        request=ClientInputSerializer,
        responses={200: ClientOutputSerializer, **_WRITE_ERRORS},
        examples=[
            OpenApiExample("atualização", value=CLIENT_INPUT_EXAMPLE, request_only=True),
            ERROR_EXAMPLE,
        ],
    )
    def update(self, request, pk=None):
        return self._update(request, partial=False)

    @extend_schema(
        summary="Atualizar parte do cliente",
        request=ClientInputSerializer(partial=True),
        responses={200: ClientOutputSerializer, **_WRITE_ERRORS},
        examples=[OpenApiExample("novo telefone", value={"phone": "21 99876-5432"}, request_only=True)],
    )
    def partial_update(self, request, pk=None):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool) -> Response:
        client = self.get_object()
        data = ClientInputSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        client = services.client_update(
            client=client, data=data.validated_data, by=request.user, ip=client_ip(request)
        )
        return Response(ClientOutputSerializer(client, context=_echo(request)).data)

    @extend_schema(
        summary="Esquecer titular (LGPD)",
        description="Anonimiza o cliente e os textos das suas mensagens; mantém valores e situações das "
        "cobranças. Irreversível. Apenas equipe administrativa.",
        request=None,
        responses={200: ClientOutputSerializer, **_DETAIL_ERRORS},
        examples=[
            OpenApiExample(
                "anonimizado",
                response_only=True,
                value={
                    **CLIENT_EXAMPLE,
                    "name": "Titular anonimizado #42",
                    "phone": "+00042",
                    "document": "",
                    "email": "",
                    "opted_out": True,
                    "opted_out_at": "2026-03-05T09:00:00-03:00",
                    "forgotten_at": "2026-03-05T09:00:00-03:00",
                },
            )
        ],
    )
    @action(detail=True, methods=["post"], url_path="forget")
    def forget(self, request, pk=None):
        client = self.get_object()
        client = privacy.forget_client(client=client, by=request.user, reason="api", ip=client_ip(request))
        return Response(ClientOutputSerializer(client, context=self.get_serializer_context()).data)

    @extend_schema(
        summary="Exportar dados do titular (LGPD)",
        description="Tudo o que o sistema guarda sobre o cliente. Apenas equipe administrativa; fica "
        "registrado na auditoria.",
        responses={
            200: OpenApiResponse(description="JSON com client, charges, dispatches, conversations"),
            **_DETAIL_ERRORS,
        },
        examples=[
            OpenApiExample(
                "exportação",
                response_only=True,
                value={
                    "generated_at": "2026-03-05T09:00:00-03:00",
                    "client": {"id": 42, "name": "Maria da Silva"},
                    "charges": [],
                    "dispatches": [],
                    "conversations": [],
                },
            )
        ],
    )
    @action(detail=True, methods=["get"], url_path="export")
    def export(self, request, pk=None):
        client = self.get_object()
        return Response(privacy.export_client_audited(client=client, by=request.user, ip=client_ip(request)))


@extend_schema_view(
    list=extend_schema(
        summary="Listar cobranças",
        responses={200: ChargeOutputSerializer(many=True), **_READ_ERRORS},
        examples=[OpenApiExample("lista", value=_paged(CHARGE_EXAMPLE), response_only=True)],
    ),
    retrieve=extend_schema(
        summary="Detalhar cobrança",
        responses={200: ChargeOutputSerializer, **_DETAIL_ERRORS},
        examples=[OpenApiExample("cobrança", value=CHARGE_EXAMPLE, response_only=True)],
    ),
)
class ChargeViewSet(_ResourceViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    """No delete: charges are financial records; a wrong one is cancelled by an operator, never erased."""

    queryset = Charge.objects.order_by("due_date", "pk")
    serializer_class = ChargeOutputSerializer
    filterset_class = filters.ChargeFilter
    lookup_value_regex = r"\d+"

    # Changing a charge's status is a change of the charge (create/update: add/change_charge, from the model).
    write_permissions = {"mark_paid": ["billing.change_charge"]}

    @extend_schema(
        summary="Cadastrar cobrança",
        request=ChargeInputSerializer,
        responses={201: ChargeOutputSerializer, **_WRITE_ERRORS},
        examples=[
            OpenApiExample("nova cobrança", value=CHARGE_INPUT_EXAMPLE, request_only=True),
            OpenApiExample("criada", value=CHARGE_EXAMPLE, response_only=True, status_codes=["201"]),
        ],
    )
    def create(self, request):
        data = ChargeInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        charge = services.charge_create(data=data.validated_data, by=request.user, ip=client_ip(request))
        return Response(ChargeOutputSerializer(charge).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Atualizar cobrança",
        description="Valor, vencimento, descrição e id externo. Cobranças pagas ou canceladas: 409.",
        request=ChargeUpdateSerializer,
        responses={200: ChargeOutputSerializer, **_WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "novo vencimento",
                request_only=True,
                value={
                    "external_id": "FAT-2026-03-0007",
                    "amount": "150.50",
                    "due_date": "2026-03-20",
                    "description": "",
                },
            )
        ],
    )
    def update(self, request, pk=None):
        return self._update(request, partial=False)

    @extend_schema(
        summary="Atualizar parte da cobrança",
        request=ChargeUpdateSerializer(partial=True),
        responses={200: ChargeOutputSerializer, **_WRITE_ERRORS},
        examples=[OpenApiExample("novo valor", value={"amount": "120.00"}, request_only=True)],
    )
    def partial_update(self, request, pk=None):
        return self._update(request, partial=True)

    def _update(self, request, *, partial: bool) -> Response:
        charge = self.get_object()
        data = ChargeUpdateSerializer(data=request.data, partial=partial)
        data.is_valid(raise_exception=True)
        charge = services.charge_update(
            charge=charge, data=data.validated_data, by=request.user, ip=client_ip(request)
        )
        return Response(ChargeOutputSerializer(charge).data)

    @extend_schema(
        summary="Marcar cobrança como paga",
        description="Idempotente: repetir o pedido devolve a cobrança já paga. O que a cobrança ainda "
        "devia (o saldo, ou as parcelas em aberto de um acordo ativo) é registrado como pagamento de origem "
        "operador em `paid_at` (padrão: agora), e o devedor recebe o agradecimento pelo WhatsApp (não para "
        "um pagamento de mais de 7 dias atrás), como em "
        '"Marcar como paga" no painel. Promessas pendentes viram cumpridas e acordos ativos, concluídos.',
        request=ChargeMarkPaidSerializer,
        responses={200: ChargeOutputSerializer, **_WRITE_ERRORS},
        examples=[
            OpenApiExample("pagamento", value={"paid_at": "2026-03-09T14:30:00-03:00"}, request_only=True),
            OpenApiExample(
                "paga",
                response_only=True,
                value={**CHARGE_EXAMPLE, "status": "paid", "paid_at": "2026-03-09T14:30:00-03:00"},
            ),
        ],
    )
    @action(detail=True, methods=["post"], url_path="mark-paid")
    def mark_paid(self, request, pk=None):
        charge = self.get_object()
        data = ChargeMarkPaidSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        # Like the dashboard's "Marcar como paga": what was owed is recorded as a payment (the Painel counts
        # it, the debtor is thanked) before the charge is marked paid (docs/payments.md).
        charge = charge_confirm_payment(
            charge=charge, by=request.user, paid_at=data.validated_data.get("paid_at"), ip=client_ip(request)
        )
        return Response(ChargeOutputSerializer(charge).data)


DISPATCH_EXAMPLE = {
    "id": 901,
    "campaign": 3,
    "charge": 7,
    "client": 42,
    "status": "delivered",
    "reason": "",
    "attempts": 1,
    "sent_at": "2026-03-02T10:21:00-03:00",
    "delivered_at": "2026-03-02T10:21:04-03:00",
    "read_at": None,
    "created_at": "2026-03-02T10:20:00-03:00",
    "updated_at": "2026-03-02T10:21:04-03:00",
}


@extend_schema_view(
    list=extend_schema(
        summary="Listar envios",
        responses={200: DispatchOutputSerializer(many=True), **_READ_ERRORS},
        examples=[OpenApiExample("lista", value=_paged(DISPATCH_EXAMPLE), response_only=True)],
    ),
    retrieve=extend_schema(
        summary="Detalhar envio",
        responses={200: DispatchOutputSerializer, **_DETAIL_ERRORS},
        examples=[OpenApiExample("envio", value=DISPATCH_EXAMPLE, response_only=True)],
    ),
)
class DispatchViewSet(_ResourceViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    queryset = Dispatch.objects.order_by("pk")
    serializer_class = DispatchOutputSerializer
    filterset_class = filters.DispatchFilter
    lookup_value_regex = r"\d+"
