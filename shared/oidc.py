"""Staff sign-in in the browser: OpenID Connect authorization code flow with PKCE (S256),
state and nonce, then a signed session cookie (shared/web_session.py). Every service mounts
these routes (shared/service.py), so the dashboard and the printable pages of any service can
be opened in a browser:

    GET /auth/login?next=/dashboard   to the provider's authorization endpoint (a Chinese page
                                      saying how to get a token when no provider is set)
    GET /auth/callback                the provider sends the browser back here: state checked,
                                      code exchanged (with the PKCE verifier), the ID token
                                      verified (issuer, audience = our client, nonce), the
                                      access token verified as any Bearer token and its
                                      principal kept in the session; then back to `next`
    GET /auth/logout                  clears the session, then the provider's end_session
                                      endpoint when it has one
    GET /auth/signed-out              where the provider sends the browser after sign-out

Register `<public origin>/auth/callback` as a redirect URI and `<public origin>/auth/signed-out`
as a post-logout redirect URI of the client at the provider.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import logging
import secrets
from typing import Any
from urllib.parse import urlencode

import anyio
import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shared.oidc_discovery import OidcProvider, ProviderUnavailable
from shared.security_settings import SecuritySettings
from shared.session_revocation import SessionRevocations
from shared.tokens import Unauthorized, Verifier
from shared.web_session import SESSION_COOKIE, SessionSigner, cookie_attributes, origin_of

log = logging.getLogger(__name__)

LOGIN, CALLBACK, LOGOUT, SIGNED_OUT = ("/auth/login", "/auth/callback", "/auth/logout",
                                       "/auth/signed-out")
SIGN_IN_PATHS = frozenset({LOGIN, CALLBACK, LOGOUT, SIGNED_OUT})
FLOW_COOKIE = "canbao_signin"
FLOW_SECONDS = 600
DEFAULT_NEXT = "/dashboard"


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} · 参保</title></head>"
        f'<body style="font-family:sans-serif;max-width:40em;margin:4em auto">'
        f"<h1>{html.escape(title)}</h1>{body}</body></html>", status,
        headers={"cache-control": "no-store"})


def _safe_next(value: str | None) -> str:
    """A local path to return to after sign-in (never another site: no open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")) or \
            any(c in value for c in "\r\n\\"):
        return DEFAULT_NEXT
    return value


def _pkce_challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


class SignIn:
    """The sign-in flow of one service, built from its security settings."""

    def __init__(self, settings: SecuritySettings, verifier: Verifier | None,
                 signer: SessionSigner, revocations: SessionRevocations | None = None) -> None:
        self.provider: OidcProvider | None = settings.oidc_provider
        self.client_id = settings.oidc_client_id or ""
        self.client_secret = settings.oidc_client_secret
        self.scopes = settings.oidc_scopes
        origins = [origin_of(o) for o in settings.public_origins]
        self.public_origin = next((o for o in origins if o), None)
        self.verifier = verifier
        self.signer = signer
        self.revocations = revocations

    def _origin(self, request: Request) -> str:
        return self.public_origin or f"{request.url.scheme}://{request.url.netloc}"

    def _cookie(self, request: Request, **extra: Any) -> dict[str, Any]:
        return cookie_attributes(request.url.scheme, request.url.hostname or "", **extra)

    def _scope(self, request: Request, path: str = "/") -> dict[str, Any]:
        """The attributes `delete_cookie` needs to match the cookie set."""
        attributes = self._cookie(request, path=path)
        attributes.pop("max_age")
        return attributes

    async def _metadata(self) -> dict[str, Any]:
        assert self.provider is not None
        return await anyio.to_thread.run_sync(self.provider.metadata)

    async def login(self, request: Request) -> Response:
        target = _safe_next(request.query_params.get("next"))
        if self.provider is None or self.verifier is None:
            return _page("登录", (
                "<p>本系统尚未配置统一身份认证（OpenID Connect），无法在浏览器中登录。</p>"
                "<p>管理员请设置 <code>CANBAO_OIDC_ISSUER</code>、"
                "<code>CANBAO_OIDC_CLIENT_ID</code> 等（见 README 的“访问控制”一节）。"
                "开发环境中可用 "
                "<code>canbao token --role township_staff --region 370481001000</code> "
                "取得令牌，以 <code>Authorization: Bearer</code> 调用接口。</p>"
                "<p lang=\"en\">Browser sign-in is not configured (CANBAO_OIDC_ISSUER).</p>"),
                401)
        try:
            metadata = await self._metadata()
        except ProviderUnavailable as exc:
            log.warning("sign-in: %s", exc)
            return _page("暂时无法登录", "<p>统一身份认证服务暂时无法访问，请稍后再试。</p>", 503)
        state, nonce, code_verifier = (secrets.token_urlsafe(32) for _ in range(3))
        redirect_uri = self._origin(request) + CALLBACK
        query = urlencode({
            "response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
            "scope": self.scopes, "state": state, "nonce": nonce,
            "code_challenge": _pkce_challenge(code_verifier), "code_challenge_method": "S256",
        })
        endpoint = metadata["authorization_endpoint"]
        response = RedirectResponse(f"{endpoint}{'&' if '?' in endpoint else '?'}{query}", 302)
        flow = self.signer.sign("signin", {"state": state, "nonce": nonce,
                                           "verifier": code_verifier, "next": target,
                                           "redirect_uri": redirect_uri}, FLOW_SECONDS)
        response.set_cookie(FLOW_COOKIE, flow, **self._cookie(request, path="/auth",
                                                               max_age=FLOW_SECONDS))
        response.headers["cache-control"] = "no-store"
        return response

    def _again(self, message: str, status: int = 400) -> HTMLResponse:
        return _page("登录未完成", f"<p>{html.escape(message)}</p>"
                                   f'<p><a href="{LOGIN}">重新登录</a></p>', status)

    async def callback(self, request: Request) -> Response:
        if self.provider is None or self.verifier is None:
            return self._again("本系统尚未配置统一身份认证。", 404)
        params = request.query_params
        flow = self.signer.unsign("signin", request.cookies.get(FLOW_COOKIE))
        if flow is None:
            return self._again("登录请求已过期或不是从本系统发起的，请重新登录。")
        if not hmac.compare_digest(str(params.get("state", "")), flow["state"]):
            return self._again("登录请求的 state 不符，已拒绝（可能是跨站请求）。")
        if "error" in params:
            return self._again(f"身份认证服务未完成登录：{params.get('error')}")
        code = params.get("code")
        if not code:
            return self._again("身份认证服务没有返回授权码。")
        try:
            metadata = await self._metadata()
            tokens = await self._exchange(metadata["token_endpoint"], code, flow)
        except (ProviderUnavailable, httpx.HTTPError, ValueError) as exc:
            log.warning("sign-in: code exchange failed: %s", exc)
            return self._again("向身份认证服务换取令牌失败，请重新登录。", 502)
        id_token, access_token = tokens.get("id_token"), tokens.get("access_token")
        if not isinstance(id_token, str) or not isinstance(access_token, str):
            return self._again("身份认证服务没有返回 ID 令牌和访问令牌。", 502)
        try:
            id_claims = await anyio.to_thread.run_sync(
                lambda: self.verifier.claims_of(id_token, audience=self.client_id))  # type: ignore[union-attr]
            if not hmac.compare_digest(str(id_claims.get("nonce", "")), flow["nonce"]):
                return self._again("ID 令牌的 nonce 不符，已拒绝。")
            principal = await anyio.to_thread.run_sync(self.verifier.verify, access_token)
            if not principal.is_staff:  # a person without a canbao role is no system caller
                raise Unauthorized("账号没有本系统的角色（the account has no canbao role）")
        except Unauthorized as exc:
            return _page("无法登录", "<p>身份认证服务签发的令牌未通过校验："
                         f"{html.escape(exc.message)}</p>"
                         "<p>请联系管理员为您的账号分配本系统的角色和地区。</p>", 403)
        if principal.subject != id_claims.get("sub"):
            return self._again("ID 令牌与访问令牌不属于同一用户，已拒绝。")
        response = RedirectResponse(flow["next"], 303)
        response.set_cookie(SESSION_COOKIE, self.signer.session_value(principal),
                            **self._cookie(request, max_age=self.signer.max_age_seconds))
        response.delete_cookie(FLOW_COOKIE, **self._scope(request, path="/auth"))
        return response

    async def _exchange(self, token_endpoint: str, code: str,
                        flow: dict[str, Any]) -> dict[str, Any]:
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": flow["redirect_uri"], "code_verifier": flow["verifier"]}
        auth = None
        if self.client_secret:
            auth = httpx.BasicAuth(self.client_id, self.client_secret)
        else:
            form["client_id"] = self.client_id
        async with httpx.AsyncClient(timeout=10, follow_redirects=False) as client:
            answer = await client.post(token_endpoint, data=form,
                                       auth=auth or httpx.USE_CLIENT_DEFAULT,
                                       headers={"accept": "application/json"})
        answer.raise_for_status()
        data = answer.json()
        if not isinstance(data, dict):
            raise ValueError("the token endpoint did not answer a JSON object")
        return data

    async def logout(self, request: Request) -> Response:
        # the cookie is ended here too, not only in this browser: a copy of it is refused by
        # every replica of every service from now on (shared/session_revocation.py)
        ending = self.signer.principal(request.cookies.get(SESSION_COOKIE))
        if ending is not None and self.revocations is not None:
            await self.revocations.revoke_session(ending)
        target = SIGNED_OUT
        if self.provider is not None:
            try:
                end_session = (await self._metadata()).get("end_session_endpoint")
            except ProviderUnavailable:
                end_session = None
            if isinstance(end_session, str):
                query = urlencode({"client_id": self.client_id,
                                   "post_logout_redirect_uri": self._origin(request) + SIGNED_OUT})
                target = f"{end_session}{'&' if '?' in end_session else '?'}{query}"
        response = RedirectResponse(target, 303)
        response.delete_cookie(SESSION_COOKIE, **self._scope(request))
        response.headers["cache-control"] = "no-store"
        return response

    async def signed_out(self, request: Request) -> Response:
        return _page("已退出登录", f'<p>您已退出登录。</p><p><a href="{LOGIN}">重新登录</a></p>')


def sign_in_router(sign_in: SignIn) -> APIRouter:
    router = APIRouter(tags=["sign-in"], include_in_schema=False)
    router.add_api_route(LOGIN, sign_in.login, methods=["GET"])
    router.add_api_route(CALLBACK, sign_in.callback, methods=["GET"])
    router.add_api_route(LOGOUT, sign_in.logout, methods=["GET"])
    router.add_api_route(SIGNED_OUT, sign_in.signed_out, methods=["GET"])
    return router
