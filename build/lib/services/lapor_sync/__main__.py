import uvicorn

from services.lapor_sync.app import build_app
from services.lapor_sync.settings import LaporSyncSettings

settings = LaporSyncSettings()
uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_config=None)
