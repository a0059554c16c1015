import uvicorn

from services.intake.sms.app import SmsSettings, build_app

settings = SmsSettings()
uvicorn.run(build_app(settings), host=settings.host, port=settings.port, log_config=None)
