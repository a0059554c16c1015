import uvicorn

from services.router.app import build_app
from services.router.settings import RouterSettings

settings = RouterSettings()
uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_config=None)
