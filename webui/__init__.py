"""Linebox web UI: FastAPI app, templates and local static assets (see `app.create_app`)."""
