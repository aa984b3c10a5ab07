"""The HTTP API: FastAPI app, OAuth2 login, one router per context (OpenAPI at /docs)."""
