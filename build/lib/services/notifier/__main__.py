import uvicorn

from services.notifier.app import build_app
from services.notifier.settings import NotifierSettings

settings = NotifierSettings()
uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_config=None)
