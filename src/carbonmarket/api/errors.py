"""How refusals and malformed requests look on the wire: `{"ok": false, "code", "message"}`.

Every error the API returns has that one shape, whatever raised it (a service's refusal, Pydantic
validation, an unknown route), so a client needs one code path for failures. The HTTP status is
derived from the code; the code, not the status, is the contract.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from carbonmarket.core.results import Code, Done, Outcome, Refusal, Refused

log = logging.getLogger(__name__)

# Transport-level codes of the API itself; everything a service refuses uses carbonmarket.core.results.Code.
INVALID_REQUEST = "invalid_request"
NOT_FOUND = "not_found"
METHOD_NOT_ALLOWED = "method_not_allowed"
REQUEST_TOO_LARGE = "request_too_large"
INTERNAL_ERROR = "internal_error"

_UNAUTHORISED = {Code.NOT_AUTHENTICATED.value, Code.BAD_CREDENTIALS.value}
# Codes whose Pydantic error type we raise ourselves (see registry.py's quantity type): they keep
# the service's code so a client sees the same refusal whether the service or the parser caught it.
_KNOWN_CODES = frozenset(c.value for c in Code)
validation_errors_shown_max = 5


class ErrorOut(BaseModel):
    """The body of every error response."""

    model_config = ConfigDict(extra="allow")

    ok: bool = False
    code: str
    message: str
    details: dict[str, Any] | None = None


class DoneOut(BaseModel):
    """The body of every successful write: `created` the first time, `exists` for a replayed id."""

    model_config = ConfigDict(extra="allow")

    ok: bool = True
    result: str


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "not_authenticated or bad_credentials"},
    403: {"model": ErrorOut, "description": "forbidden: the role or account right is missing"},
    404: {"model": ErrorOut, "description": "unknown_* or *_not_found"},
    422: {"model": ErrorOut, "description": "invalid_request or a business refusal (see `code`)"},
}
WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": DoneOut, "description": "`exists`: this id was already applied; the first result"},
    201: {"model": DoneOut, "description": "`created`: applied now"},
    409: {"model": ErrorOut, "description": "exists_with_different_fields: the id was used for another body"},
    **ERROR_RESPONSES,
}


# Refusals that mean "you may not", whatever the context that raised them.
_FORBIDDEN = frozenset(
    {
        Code.FORBIDDEN.value,
        "review_wrong_tier",
        "review_out_of_scope",
        "review_reviewer_not_assigned",
        "verification_not_of_body",
        "compliance_out_of_province",
    }
)


def status_for(code: str) -> int:
    """The HTTP status for a refusal code."""
    if code in _FORBIDDEN:
        return 403
    if code in _UNAUTHORISED:
        return 401
    if code.startswith("unknown_") or code.endswith("_not_found"):
        return 404
    if code == Code.EXISTS_WITH_DIFFERENT_FIELDS.value:
        return 409
    return 422


def error_response(
    code: str, message: str, status: int, details: dict[str, Any] | None = None
) -> JSONResponse:
    """An error in the API's one shape; 401s name the scheme so clients know to send a bearer token."""
    body: dict[str, Any] = {"ok": False, "code": code, "message": message}
    if details:
        body["details"] = details
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def refusal_response(refusal: Refusal) -> JSONResponse:
    """A service's refusal as an HTTP error."""
    code = refusal.code.value
    return error_response(code, refusal.message, status_for(code), refusal.details or None)


def outcome_response(outcome: Outcome) -> JSONResponse:
    """A write's outcome: 201 `created`, 200 `exists`, or the refusal's error status."""
    if isinstance(outcome, Refusal):
        return refusal_response(outcome)
    assert isinstance(outcome, Done), f"a service returned {outcome!r}"
    return JSONResponse(outcome.as_json(), status_code=201 if outcome.result == "created" else 200)


def _describe_validation(errors: list[Any]) -> tuple[str, str]:
    """The code and one readable sentence for Pydantic's list of errors."""
    code = INVALID_REQUEST
    parts = []
    for error in errors[:validation_errors_shown_max]:
        # The first element of `loc` is where the value came from (body, query, path): not useful to a reader.
        location = ".".join(str(p) for p in error.get("loc", ())[1:]) or "body"
        parts.append(f"{location}: {error.get('msg', 'invalid')}")
        if error.get("type") in _KNOWN_CODES:
            code = str(error["type"])
    if len(errors) > validation_errors_shown_max:
        parts.append(f"and {len(errors) - validation_errors_shown_max} more")
    return code, "; ".join(parts)


async def _on_refused(_request: Request, error: Exception) -> Response:
    assert isinstance(error, Refused)
    return refusal_response(error.refusal)


async def _on_validation(_request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    code, message = _describe_validation(list(error.errors()))
    return error_response(code, message, 422)


async def _on_http(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    if error.status_code == 404:
        return error_response(NOT_FOUND, f"no such path: {request.url.path}", 404)
    if error.status_code == 413:
        return error_response(REQUEST_TOO_LARGE, str(error.detail), 413)
    if error.status_code == 405:
        return error_response(
            METHOD_NOT_ALLOWED, f"{request.method} is not allowed on {request.url.path}", 405
        )
    return error_response(f"http_{error.status_code}", str(error.detail), error.status_code)


async def _on_unexpected(request: Request, error: Exception) -> Response:
    # A bug, not a refusal (rule 7): log it in full, tell the client only that it happened.
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return error_response(INTERNAL_ERROR, "an unexpected error happened; it has been logged", 500)


def install_error_handlers(app: FastAPI) -> None:
    """Make every failure of `app` answer in the API's one error shape."""
    app.add_exception_handler(Refused, _on_refused)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)
