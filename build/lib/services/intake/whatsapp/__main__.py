import uvicorn

from services.intake.whatsapp.app import WhatsAppSettings, build_app

settings = WhatsAppSettings()
uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_config=None)
