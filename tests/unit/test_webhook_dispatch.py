"""Webhook POSTs go straight to endpoints that take only the request (and `str` path
parameters), with the app's own error handling and request ids; anything FastAPI must
inject stays with FastAPI."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from services.ingest.http.app import create_app
from services.ingest.http.dispatch import DirectWebhooks
from shared.config import FileConfig, Settings, Webhooks
from shared.kafka.publisher import InMemoryPublisher
from shared.web import ApiError, RequestIdMiddleware, install_error_handlers

router = APIRouter(prefix="/webhooks/test")
seen: list[str] = []


@router.post("/plain/{name}")
async def plain(name: str, request: Request) -> JSONResponse:
    seen.append(f"plain {name} {request.headers.get('x-marker')}")
    if name == "refused":
        raise ApiError(403, "bad_token", "the token is wrong")
    if name == "broken":
        raise RuntimeError("a bug")
    return JSONResponse({"name": name})


def needs_a_dependency() -> str:
    seen.append("dependency")
    return "value"


@router.post("/injected")
async def injected(request: Request, limit: int, value: str = Depends(needs_a_dependency)) -> JSONResponse:
    return JSONResponse({"limit": limit, "value": value})


def app_with_direct_webhooks() -> FastAPI:
    app = FastAPI()
    app.add_middleware(DirectWebhooks, fastapi=app, routers=[router])
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": "internal_error", "detail": "not stored"}, status_code=500)

    app.include_router(router)
    return app


def test_only_endpoints_that_take_just_the_request_and_path_text_are_served_directly():
    direct = DirectWebhooks(app_with_direct_webhooks(), fastapi=FastAPI(), routers=[router])
    assert [route.path for route in direct.routes] == ["/webhooks/test/plain/{name}"]


def test_a_direct_webhook_gets_its_path_parameter_and_answers_with_a_request_id():
    seen.clear()
    client = TestClient(app_with_direct_webhooks())
    response = client.post("/webhooks/test/plain/cti", headers={"x-marker": "m1", "x-request-id": "req-1"})
    assert response.status_code == 200 and response.json() == {"name": "cti"}
    assert response.headers["x-request-id"] == "req-1"
    assert seen == ["plain cti m1"]


def test_a_direct_webhook_refusal_and_a_bug_answer_with_the_apps_json_errors():
    client = TestClient(app_with_direct_webhooks(), raise_server_exceptions=False)
    refused = client.post("/webhooks/test/plain/refused")
    assert (refused.status_code, refused.json()) == (403, {"error": "bad_token", "detail": "the token is wrong"})
    broken = client.post("/webhooks/test/plain/broken")
    assert (broken.status_code, broken.json()["error"]) == (500, "internal_error")


def test_an_endpoint_with_injected_parameters_is_left_to_fastapi():
    seen.clear()
    client = TestClient(app_with_direct_webhooks())
    assert client.post("/webhooks/test/injected?limit=5").json() == {"limit": 5, "value": "value"}
    assert seen == ["dependency"]
    missing = client.post("/webhooks/test/injected")
    assert (missing.status_code, missing.json()["error"]) == (422, "invalid_request")


def test_other_methods_and_unknown_paths_still_get_fastapis_answers():
    client = TestClient(app_with_direct_webhooks())
    assert client.get("/webhooks/test/plain/cti").status_code == 405
    assert client.post("/webhooks/test/nothing/here").status_code == 404


def test_the_ingest_app_serves_every_webhook_post_directly():
    settings = Settings(file=FileConfig(webhooks=Webhooks.model_validate({"cti": {"token": "cti-token-0123456789"}})))
    app = create_app(settings, InMemoryPublisher())
    [direct] = [m for m in app.user_middleware if m.cls is DirectWebhooks]
    paths = [route.path for route in DirectWebhooks(app, **direct.kwargs).routes]
    assert paths == ["/webhooks/telephony/cti", "/webhooks/telephony/twilio", "/webhooks/forms/{form_id}",
                     "/webhooks/shipping/{provider}"]
