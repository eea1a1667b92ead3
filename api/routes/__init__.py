"""One router per area; `api.app.create_app` includes them all."""
