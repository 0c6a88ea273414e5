"""The simulated PSP's state and rules: tokens, cobv records, received Pix, webhooks, faults.

No HTTP here (``server.py`` is the front). Every public method takes and returns plain JSON-ready data and
raises :class:`Problem` for what a PSP answers with ``application/problem+json``.
"""

from __future__ import annotations

import copy
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .brcode import dynamic_brcode

PROBLEM_BASE = "https://pix.bcb.gov.br/api/v2/error/"
TXID = re.compile(r"[a-zA-Z0-9]{26,35}")
E2EID = re.compile(r"[a-zA-Z0-9]{32}")
MONEY = re.compile(r"\d{1,10}\.\d{2}")
ALNUM = string.ascii_letters + string.digits


class Problem(Exception):
    """An answer in the spec's ``Problema`` shape (RFC 7807)."""

    def __init__(self, status: int, name: str, title: str, detail: str, violacoes: list | None = None):
        super().__init__(detail)
        self.status = status
        self.body: dict[str, Any] = {
            "type": PROBLEM_BASE + name,
            "title": title,
            "status": status,
            "detail": detail,
        }
        if violacoes:
            self.body["violacoes"] = violacoes


def not_found(detail: str = "Entidade não encontrada.") -> Problem:
    return Problem(404, "NaoEncontrado", "Não Encontrado", detail)


def invalid_cobv(detail: str, prop: str | None = None) -> Problem:
    violacoes = [{"razao": f"O campo {prop} não respeita o _schema_.", "propriedade": prop}] if prop else None
    return Problem(400, "CobVOperacaoInvalida", "Cobrança inválida.", detail, violacoes)


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_rfc3339(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        raise Problem(400, "RequisicaoInvalida", "Requisição inválida.", f"{name} não é RFC 3339") from None
    if parsed.tzinfo is None:
        raise Problem(400, "RequisicaoInvalida", "Requisição inválida.", f"{name} sem fuso horário")
    return parsed


def money(value: Any, prop: str) -> Decimal:
    if not isinstance(value, str) or not MONEY.fullmatch(value):
        raise invalid_cobv(f"{prop} deve ser uma string como 123.45", prop)
    try:
        return Decimal(value)
    except InvalidOperation:
        raise invalid_cobv(f"{prop} inválido", prop) from None


def e2eid(ispb: str, when: datetime) -> str:
    """E + the payer PSP's ISPB (8 digits) + yyyyMMddHHmm (UTC) + 11 alphanumerics: 32 characters."""
    tail = "".join(secrets.choice(ALNUM) for _ in range(11))
    return f"E{ispb}{when.astimezone(UTC):%Y%m%d%H%M}{tail}"


@dataclass
class Options:
    client_id: str | None = None  # None: any id and secret get a token
    client_secret: str | None = None
    token_ttl: float = 3600.0
    payer_ispb: str = "60701190"
    receiver: dict[str, str] = field(
        default_factory=lambda: {
            "cnpj": "00000000000191",
            "nome": "Cobranca Inteligente Demo Ltda",
            "logradouro": "Av. Paulista, 1000",
            "cidade": "Sao Paulo",
            "uf": "SP",
            "cep": "01310100",
        }
    )
    public_host: str | None = None  # host[:port] in each cobv's location; None: the server's own address
    webhook_timeout: float = 5.0
    # https with this certificate and key (PEM); with tls_client_ca, mutual TLS: only clients presenting a
    # certificate signed by that CA get through the handshake, as at a real PSP.
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_client_ca: str | None = None


@dataclass
class Faults:
    status_5xx: int = 0  # the next n API calls answer 503
    timeout: int = 0  # the next n API calls answer only after timeout_seconds
    timeout_seconds: float = 15.0
    oauth_5xx: int = 0  # the next n token requests answer 503

    def as_dict(self) -> dict[str, Any]:
        return {
            "status_5xx": self.status_5xx,
            "timeout": self.timeout,
            "timeout_seconds": self.timeout_seconds,
            "oauth_5xx": self.oauth_5xx,
        }


class PspState:
    """Everything the simulated PSP remembers, behind one lock."""

    def __init__(self, options: Options | None = None) -> None:
        self.options = options or Options()
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.tokens: dict[str, float] = {}
            self.cobvs: dict[str, dict[str, Any]] = {}
            self.pix: dict[str, dict[str, Any]] = {}
            self.webhooks: dict[str, dict[str, str]] = {}
            self.faults = Faults()
            self.deliveries: list[dict[str, Any]] = []
            self.requests: list[dict[str, Any]] = []
            self.tokens_issued = 0
            self.unauthorized = 0  # API calls answered 401 (a client should renew its token before that)
            self._next_loc = 1

    # --- OAuth2 -----------------------------------------------------------------------------------------

    def issue_token(self, client_id: str, client_secret: str) -> dict[str, Any]:
        expected = (self.options.client_id, self.options.client_secret)
        if (
            not client_id
            or not client_secret
            or (expected[0] is not None and (client_id, client_secret) != expected)
        ):
            raise Problem(401, "AcessoNegado", "invalid_client", "credenciais do cliente inválidas")
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = time.monotonic() + self.options.token_ttl
            self.tokens_issued += 1
        scope = "cobv.write cobv.read pix.read webhook.write webhook.read"
        ttl = max(1, int(self.options.token_ttl))
        return {"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": scope}

    def token_valid(self, token: str) -> bool:
        with self.lock:
            expires = self.tokens.get(token)
            return expires is not None and time.monotonic() < expires

    def expire_tokens(self) -> int:
        with self.lock:
            count = len(self.tokens)
            self.tokens.clear()
            return count

    # --- faults -----------------------------------------------------------------------------------------

    def set_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if "status_5xx" in body:
                self.faults.status_5xx = max(0, int(body["status_5xx"]))
            if "timeout" in body:
                self.faults.timeout = max(0, int(body["timeout"]))
            if "timeout_seconds" in body:
                self.faults.timeout_seconds = max(0.0, float(body["timeout_seconds"]))
            if "oauth_5xx" in body:
                self.faults.oauth_5xx = max(0, int(body["oauth_5xx"]))
            expired = self.expire_tokens() if body.get("expire_tokens") else 0
            return {**self.faults.as_dict(), "tokens_expired": expired}

    def take_oauth_fault(self) -> bool:
        with self.lock:
            if self.faults.oauth_5xx > 0:
                self.faults.oauth_5xx -= 1
                return True
            return False

    def take_fault(self) -> tuple[str, float] | None:
        """The fault the next API call suffers, if any (each one is used up)."""
        with self.lock:
            if self.faults.status_5xx > 0:
                self.faults.status_5xx -= 1
                return ("5xx", 0.0)
            if self.faults.timeout > 0:
                self.faults.timeout -= 1
                return ("timeout", self.faults.timeout_seconds)
            return None

    # --- cobv -------------------------------------------------------------------------------------------

    def _check_cobv_body(self, body: Any, *, creating: bool) -> None:
        if not isinstance(body, dict):
            raise invalid_cobv("o corpo deve ser um objeto JSON")
        if creating:
            for prop in ("calendario", "devedor", "valor", "chave"):
                if prop not in body:
                    raise invalid_cobv(f"cobv.{prop} é obrigatório", f"cobv.{prop}")
        calendario = body.get("calendario")
        if calendario is not None:
            try:
                date.fromisoformat(str(calendario.get("dataDeVencimento")))
            except (AttributeError, ValueError):
                raise invalid_cobv(
                    "data de vencimento inválida", "cobv.calendario.dataDeVencimento"
                ) from None
        valor = body.get("valor")
        if valor is not None:
            if not isinstance(valor, dict) or (creating and "original" not in valor):
                raise invalid_cobv("cobv.valor.original é obrigatório", "cobv.valor.original")
            if "original" in valor and money(valor["original"], "cobv.valor.original") <= 0:
                raise invalid_cobv("Valor da cobrança não pode ser 0.00", "cobv.valor.original")
        devedor = body.get("devedor")
        if devedor is not None:
            self._check_devedor(devedor)

    @staticmethod
    def _check_devedor(devedor: Any) -> None:
        if not isinstance(devedor, dict) or not devedor.get("nome"):
            raise invalid_cobv("O objeto cobv.devedor não respeita o _schema_.", "cobv.devedor")
        cpf, cnpj = devedor.get("cpf"), devedor.get("cnpj")
        if bool(cpf) == bool(cnpj):
            raise invalid_cobv("informe cpf ou cnpj do devedor", "cobv.devedor")
        if cpf and not re.fullmatch(r"\d{11}", str(cpf)):
            raise invalid_cobv("cpf deve ter 11 dígitos", "cobv.devedor.cpf")
        if cnpj and not re.fullmatch(r"[0-9A-Z]{14}", str(cnpj)):
            raise invalid_cobv("cnpj deve ter 14 caracteres", "cobv.devedor.cnpj")

    def _brcode(self, record: dict[str, Any]) -> str:
        receiver = self.options.receiver
        return dynamic_brcode(
            location=record["loc"]["location"],
            amount=Decimal(record["valor"]["original"]),
            name=receiver["nome"],
            city=receiver["cidade"],
        )

    def put_cobv(self, txid: str, body: Any) -> tuple[int, dict[str, Any]]:
        if not TXID.fullmatch(txid):
            raise invalid_cobv("txid deve ter de 26 a 35 caracteres [a-zA-Z0-9]", "cobv.txid")
        self._check_cobv_body(body, creating=True)
        with self.lock:
            existing = self.cobvs.get(txid)
            if existing is not None:
                # A PUT repeated after a lost answer gets the same charge back; a different one is refused.
                if existing["_request"] == body:
                    return 201, self._public(existing)
                raise invalid_cobv(
                    "txid já utilizado por outra cobrança: use PATCH para revisá-la", "cobv.txid"
                )
            created = now_rfc3339()
            loc_id = self._next_loc
            self._next_loc += 1
            record = copy.deepcopy(body)
            record["calendario"] = {"criacao": created, "validadeAposVencimento": 30, **body["calendario"]}
            record.update(
                txid=txid,
                revisao=0,
                status="ATIVA",
                recebedor=dict(self.options.receiver),
                loc={
                    "id": loc_id,
                    "location": f"{self.options.public_host}/qr/v2/cobv/{secrets.token_hex(16)}",
                    "tipoCob": "cobv",
                    "criacao": created,
                    "txid": txid,
                },
                _request=copy.deepcopy(body),
            )
            record["location"] = record["loc"]["location"]
            record["pixCopiaECola"] = self._brcode(record)
            self.cobvs[txid] = record
            return 201, self._public(record)

    def patch_cobv(self, txid: str, body: Any) -> dict[str, Any]:
        self._check_cobv_body(body, creating=False)
        with self.lock:
            record = self.cobvs.get(txid)
            if record is None:
                raise not_found("Cobrança não encontrada.")
            if record["status"] != "ATIVA":
                raise Problem(
                    400,
                    "CobVOperacaoInvalida",
                    "Operação inválida.",
                    "Cobrança não encontra-se mais com o status ATIVA, somente cobranças ativas podem ser "
                    "revisadas.",
                )
            for key, value in body.items():
                if key in ("calendario", "valor", "devedor") and isinstance(value, dict):
                    merged = {**record.get(key, {}), **value}
                    if key == "devedor" and ("cpf" in value or "cnpj" in value):
                        merged = {k: v for k, v in merged.items() if k not in ("cpf", "cnpj") or k in value}
                    record[key] = merged
                elif key == "status":
                    if value != "REMOVIDA_PELO_USUARIO_RECEBEDOR":
                        raise invalid_cobv(
                            "status só pode ser REMOVIDA_PELO_USUARIO_RECEBEDOR", "cobv.status"
                        )
                    record["status"] = value
                elif key in ("chave", "solicitacaoPagador", "infoAdicionais"):
                    record[key] = value
            record["revisao"] += 1
            record["pixCopiaECola"] = self._brcode(record)
            return self._public(record)

    def get_cobv(self, txid: str) -> dict[str, Any]:
        with self.lock:
            record = self.cobvs.get(txid)
            if record is None:
                raise not_found("Cobrança não encontrada.")
            answer = self._public(record)
            received = [copy.deepcopy(p) for p in self.pix.values() if p.get("txid") == txid]
            if received:
                answer["pix"] = received
            return answer

    @staticmethod
    def _public(record: dict[str, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in record.items() if not k.startswith("_")}

    # --- Pix received -----------------------------------------------------------------------------------

    def record_pix(self, *, txid: str | None, valor: Decimal, info: str = "") -> dict[str, Any]:
        """A payment arriving at the PSP: stored (GET /pix finds it) and, for a cobv, concluding it."""
        when = datetime.now(UTC)
        with self.lock:
            pix: dict[str, Any] = {
                "endToEndId": e2eid(self.options.payer_ispb, when),
                "valor": f"{valor:.2f}",
                "chave": "",
                "horario": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "componentesValor": {"original": {"valor": f"{valor:.2f}"}},
            }
            if txid:
                pix["txid"] = txid
            record = self.cobvs.get(txid or "")
            if record is not None:
                pix["chave"] = record["chave"]
                if record["status"] == "ATIVA":
                    record["status"] = "CONCLUIDA"
            else:
                pix["chave"] = next(iter(self.webhooks), "")
            if not pix["chave"]:
                del pix["chave"]
            if info:
                pix["infoPagador"] = info[:140]
            self.pix[pix["endToEndId"]] = pix
            return copy.deepcopy(pix)

    def get_pix(self, e2e: str) -> dict[str, Any]:
        with self.lock:
            pix = self.pix.get(e2e)
            if pix is None:
                raise not_found("Pix não encontrado.")
            return copy.deepcopy(pix)

    def list_pix(self, query: dict[str, str]) -> dict[str, Any]:
        if not query.get("inicio") or not query.get("fim"):
            raise Problem(400, "RequisicaoInvalida", "Requisição inválida.", "inicio e fim são obrigatórios")
        inicio = parse_rfc3339(query["inicio"], "inicio")
        fim = parse_rfc3339(query["fim"], "fim")
        try:
            page = int(query.get("paginacao.paginaAtual", 0))
            per_page = int(query.get("paginacao.itensPorPagina", 100))
        except ValueError:
            raise Problem(400, "RequisicaoInvalida", "Requisição inválida.", "paginação inválida") from None
        if page < 0 or not 1 <= per_page <= 1000:
            raise Problem(400, "RequisicaoInvalida", "Requisição inválida.", "paginação fora dos limites")
        with self.lock:
            matched = sorted(
                (
                    copy.deepcopy(p)
                    for p in self.pix.values()
                    if inicio <= parse_rfc3339(p["horario"], "horario") <= fim
                    and (not query.get("txid") or p.get("txid") == query["txid"])
                ),
                key=lambda p: (p["horario"], p["endToEndId"]),
            )
        pages = max(1, -(-len(matched) // per_page))
        paging = {
            "paginaAtual": page,
            "itensPorPagina": per_page,
            "quantidadeDePaginas": pages,
            "quantidadeTotalDeItens": len(matched),
        }
        return {
            "parametros": {"inicio": query["inicio"], "fim": query["fim"], "paginacao": paging},
            "pix": matched[page * per_page : (page + 1) * per_page],
        }

    # --- webhook ----------------------------------------------------------------------------------------

    def put_webhook(self, chave: str, body: Any) -> None:
        url = body.get("webhookUrl") if isinstance(body, dict) else None
        if not isinstance(url, str) or not re.match(r"https?://[^/\s]+", url):
            raise Problem(
                400,
                "WebhookOperacaoInvalida",
                "Webhook inválido.",
                "webhookUrl deve ser uma URL http(s)",
                [{"razao": "O campo webhookUrl não respeita o _schema_.", "propriedade": "webhookUrl"}],
            )
        with self.lock:
            self.webhooks[chave] = {"webhookUrl": url, "chave": chave, "criacao": now_rfc3339()}

    def get_webhook(self, chave: str) -> dict[str, Any]:
        with self.lock:
            hook = self.webhooks.get(chave)
            if hook is None:
                raise not_found("Webhook não encontrado.")
            return {**hook, "cnpj": self.options.receiver["cnpj"]}

    def delete_webhook(self, chave: str) -> None:
        with self.lock:
            if self.webhooks.pop(chave, None) is None:
                raise not_found("Webhook não encontrado.")

    def webhook_url_for(self, chave: str | None) -> str | None:
        with self.lock:
            hook = self.webhooks.get(chave or "") or next(iter(self.webhooks.values()), None)
            return hook["webhookUrl"] if hook else None

    def cobv_status(self, txid: str) -> str | None:
        with self.lock:
            record = self.cobvs.get(txid)
            return record["status"] if record is not None else None

    def amount_due(self, txid: str) -> Decimal | None:
        with self.lock:
            record = self.cobvs.get(txid)
            return Decimal(record["valor"]["original"]) if record else None

    def chave_of(self, txid: str) -> str | None:
        with self.lock:
            record = self.cobvs.get(txid)
            return record["chave"] if record else None


def half(amount: Decimal) -> Decimal:
    return max(Decimal("0.01"), (amount / 2).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
