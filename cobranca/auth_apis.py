"""JWT authentication endpoints: /auth/login, /auth/refresh, /auth/logout."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.exceptions import ObjectDoesNotExist
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from loguru import logger
from rest_framework import serializers, status
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.serializers import TokenRefreshSerializer
from rest_framework_simplejwt.tokens import RefreshToken

from cobranca.auth_tokens import refresh_matches_password, revoke_access_token
from cobranca.ratelimit import (
    LOGIN_GROUP,
    LOGIN_LOCKED_MESSAGE,
    login_attempt_failed,
    login_attempt_limited,
    login_attempt_succeeded,
    too_many_requests,
)


def _login_username(request) -> str:
    if isinstance(getattr(request, "data", None), dict):
        return str(request.data.get("username", ""))
    return ""


_TOKENS = inline_serializer("Tokens", {"access": serializers.CharField(), "refresh": serializers.CharField()})
_ERROR = inline_serializer("Error", {"message": serializers.CharField(), "extra": serializers.DictField()})


class LoginApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    class LoginInputSerializer(serializers.Serializer):
        username = serializers.CharField(max_length=150)
        password = serializers.CharField(max_length=256, trim_whitespace=False)

    @extend_schema(
        request=LoginInputSerializer,
        responses={200: _TOKENS, 400: _ERROR, 401: _ERROR, 429: _ERROR},
        examples=[OpenApiExample("login", value={"username": "operador", "password": "s3nh4-forte"})],
        summary="Obter tokens JWT",
    )
    def post(self, request):
        username = _login_username(request)
        if login_attempt_limited(request, username):
            return too_many_requests(
                request, settings.LOGIN_RATE_LIMIT, group=LOGIN_GROUP, message=LOGIN_LOCKED_MESSAGE
            )
        serializer = self.LoginInputSerializer(data=request.data)
        if not serializer.is_valid():
            login_attempt_failed(request, username)
            serializer.is_valid(raise_exception=True)
        user = authenticate(
            request,
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
        )
        if user is None or not user.is_active:
            login_attempt_failed(request, username)
            logger.bind(security=True).warning(
                "security.login_failed ip={} user_hash={}",
                request.META.get("REMOTE_ADDR", ""),
                abs(hash(serializer.validated_data["username"])) % 10**8,
            )
            return Response(
                {"message": "Usuário ou senha inválidos.", "extra": {"code": "invalid_credentials"}},
                status=status.HTTP_401_UNAUTHORIZED,
            )
        login_attempt_succeeded(request, username)
        refresh = RefreshToken.for_user(user)
        logger.info("auth.login user_id={} ip={}", user.pk, request.META.get("REMOTE_ADDR", ""))
        return Response({"access": str(refresh.access_token), "refresh": str(refresh)})


class RefreshApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    class RefreshInputSerializer(serializers.Serializer):
        refresh = serializers.CharField()

    @extend_schema(
        request=RefreshInputSerializer, responses={200: _TOKENS, 401: _ERROR}, summary="Renovar tokens"
    )
    def post(self, request):
        serializer = TokenRefreshSerializer(data=request.data)
        raw = request.data.get("refresh") if isinstance(request.data, dict) else None
        try:
            # Before rotating it: a token for another password must not mint anything.
            if isinstance(raw, str) and raw and not refresh_matches_password(raw):
                raise TokenError("issued for another password")
            serializer.is_valid(raise_exception=True)
        except (TokenError, AuthenticationFailed, ObjectDoesNotExist):
            # Expired, revoked, of a deactivated user, or of a user who no longer exists.
            return Response(
                {"message": "Token inválido ou expirado.", "extra": {"code": "token_not_valid"}},
                status=status.HTTP_401_UNAUTHORIZED,
            )
        return Response(serializer.validated_data)


class LogoutApi(APIView):
    permission_classes = [IsAuthenticated]

    class LogoutInputSerializer(serializers.Serializer):
        refresh = serializers.CharField()

    @extend_schema(
        request=LogoutInputSerializer,
        responses={205: None, 400: _ERROR},
        summary="Encerrar sessão (blacklist)",
    )
    def post(self, request):
        serializer = self.LogoutInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            token = RefreshToken(serializer.validated_data["refresh"])
            if str(token.get("user_id")) != str(request.user.pk):
                raise TokenError("token of another user")
            token.blacklist()
        except TokenError:
            return Response(
                {"message": "Token inválido ou expirado.", "extra": {"code": "token_not_valid"}},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if request.auth is not None and hasattr(request.auth, "get"):
            revoke_access_token(request.auth)  # the access token this logout came with ends too
        return Response(status=status.HTTP_205_RESET_CONTENT)
