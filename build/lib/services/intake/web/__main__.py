import uvicorn

from services.intake.web.app import WebSettings, build_app

settings = WebSettings()
uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_config=None)
