# One image for every Aduan service; each Deployment picks its service with its command
# (python -m services.router, ...). One dependency set to build, scan and patch; the
# services differ only in which module runs.
# Build: docker build -t aduan:0.1.0 .

FROM python:3.11.7-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/aduan
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
COPY standins ./standins
# The project and its pinned dependencies into the venv; tests and tools stay out. Then the router's second
# opinion trained from the installed package (-P: not from /src), so that the router loads it at start-up
# instead of training for seconds (it checks the model was trained on its own data).
RUN /opt/aduan/bin/pip install --no-compile . \
 && /opt/aduan/bin/python -P -m services.router.routing.second_opinion /opt/aduan/second-opinion.npz

FROM python:3.11.7-slim-bookworm
ENV PATH=/opt/aduan/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ADUAN_ROUTER_HOST=0.0.0.0 ADUAN_NOTIFIER_HOST=0.0.0.0 ADUAN_LAPOR_SYNC_HOST=0.0.0.0 \
    ADUAN_WEB_HOST=0.0.0.0 ADUAN_SMS_HOST=0.0.0.0 ADUAN_WHATSAPP_HOST=0.0.0.0 \
    ADUAN_ROUTER_SECOND_OPINION_SAVED=/opt/aduan/second-opinion.npz
RUN groupadd --system --gid 10001 aduan && useradd --system --uid 10001 --gid aduan --no-create-home aduan
COPY --from=build /opt/aduan /opt/aduan
WORKDIR /opt/aduan
USER 10001:10001
EXPOSE 8080
CMD ["python", "-m", "services.router"]
