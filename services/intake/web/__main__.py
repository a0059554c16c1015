import uvicorn

from services.intake.web.app import build_app
from services.intake.web.settings import WebSettings

settings = WebSettings()
uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_config=None)
