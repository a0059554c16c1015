"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) on the web intake, so civic apps and other
cities' tools can file complaints and follow them: the services are our public categories
(shared/categories.yaml), a request is a complaint and its id is the tracking code.

What this endpoint does not do, on purpose:
- No listing of requests: GET requests needs `service_request_id`. Anyone holding a tracking code may read
  the complaint's status and reply to its unit, so the codes are never handed out in bulk.
- No complaint text, place or position in what is read back: as on the status page, a reporter's words and
  whereabouts are not published (`description`, `address`, `lat` and `long` are null).
- `media_url`, `address_id`, `device_id` and `account_id` are not kept (we fetch nothing from elsewhere and
  keep no more about a reporter than the web form does); the answer's `service_notice` says so.
- A location is not required: many of our categories (a bribe, a regulation) have none.
Every request is `realtime`: the answer carries the tracking code once Kafka holds the complaint.
"""

from __future__ import annotations

import hmac
import json
import re
import uuid
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

import structlog
from email_validator import EmailNotValidError, validate_email
from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import Response
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.formparsers import MultiPartException

from services.intake.web.form import MAX_ADDRESS, MAX_TEXT, MIN_TEXT
from services.intake.web.intake import SERVICE, WebIntake, scoped, web_intake
from services.intake.web.status import ComplaintStatusView
from shared.categories import OTHER, Category, categories
from shared.channel_kit import BrokerUnavailable, InvalidText, clean_text
from shared.contracts import Anonymity, Channel, ComplaintReceived, Location, Reporter, normalise_tracking_code
from shared.local_time import WIB
from shared.phone import to_e164
from shared.places import areas, place_of
from shared.statuses import CitizenStatus

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/open311", include_in_schema=False)  # documented in docs/open311.md

JURISDICTION = "kedirikota.go.id"  # the city's website root, as the spec suggests
SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CONTENT_TYPES = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}
CLOSED = {CitizenStatus.SELESAI, CitizenStatus.DITUTUP}
MAX_IDS = 100  # service_request_id values in one GET requests
NOT_KEPT = ("media_url", "address_id", "device_id", "account_id")
# Characters XML 1.0 cannot carry at all; stored texts are cleaned already, this is the last guard.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# The singular element of each list, for the XML form (JSON is the same data, Spark convention).
_ITEM = {"attributes": "attribute", "values": "value", "endpoints": "endpoint", "formats": "format"}
ATTRIBUTES = ("anonimitas", "kelurahan")


class Refused(Exception):
    """An Open311 error: the HTTP status and a description for the person using the client."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


def _format(fmt: str) -> str:
    if fmt not in CONTENT_TYPES:
        raise Refused(404, f"unknown format {fmt[:20]!r}: use .xml or .json")
    return fmt


def _render(fmt: str, root: str, item: str | None, data: Any, status: int = 200,
            headers: dict[str, str] | None = None) -> Response:
    """`data` as JSON, or as XML under `root` (a list: one `item` element per entry)."""
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False).encode()
    else:
        top = Element(root)
        for entry in (data if item else [data]):
            _fill(SubElement(top, item) if item else top, entry)
        body = b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(top, encoding="unicode").encode()
    return Response(body, status_code=status, media_type=CONTENT_TYPES[fmt], headers=headers)


def _fill(parent: Element, entry: dict[str, Any]) -> None:
    for key, value in entry.items():
        child = SubElement(parent, key)
        if isinstance(value, list):
            for member in value:
                if isinstance(member, dict):
                    _fill(SubElement(child, _ITEM[key]), member)
                else:
                    SubElement(child, _ITEM[key]).text = _NOT_XML.sub("", str(member))
        elif isinstance(value, bool):
            child.text = "true" if value else "false"
        elif value is not None:
            child.text = _NOT_XML.sub("", str(value))


def _errors(fmt: str, refused: Refused, headers: dict[str, str] | None = None) -> Response:
    return _render(fmt if fmt in CONTENT_TYPES else "json", "errors", "error",
                   [{"code": refused.status, "description": refused.description}], refused.status, headers)


def _jurisdiction(jurisdiction_id: str | None) -> None:
    """One jurisdiction here, so the argument is optional; a different one is not ours."""
    if jurisdiction_id and jurisdiction_id.strip().lower() != JURISDICTION:
        raise Refused(404, f"jurisdiction_id not found: this endpoint serves {JURISDICTION}")


def _service(code: str | None) -> Category:
    if not code:
        raise Refused(400, "service_code was not provided")
    found = categories().get(code.strip().lower())
    if found is None:
        raise Refused(404, f"service_code not found: {code[:40]!r}")
    return found


def _w3(moment: datetime | None) -> str | None:
    """A w3 date-time with its offset, in Kota Kediri's time (WIB, +07:00)."""
    return moment.astimezone(WIB).isoformat(timespec="seconds") if moment else None


def service_entry(category: Category) -> dict[str, Any]:
    return {"service_code": category.code, "service_name": category.name, "description": category.description,
            "metadata": True, "type": "realtime", "keywords": category.keywords, "group": category.group}


def service_definition(category: Category) -> dict[str, Any]:
    kelurahan = [{"key": name, "name": f"{name} (Kec. {kecamatan})"}
                 for kecamatan, names in areas().items() for name in names]
    return {"service_code": category.code, "attributes": [
        {"variable": True, "code": "anonimitas", "datatype": "singlevaluelist", "required": False,
         "datatype_description": None, "order": 1,
         "description": "Identitas pelapor. Bila tidak diisi: identitas boleh diketahui unit kerja.",
         "values": [{"key": Anonymity.NONE.value, "name": "Identitas boleh diketahui unit kerja"},
                    {"key": Anonymity.ANONIM.value, "name": "Anonim: identitas disembunyikan dari unit kerja"},
                    {"key": Anonymity.RAHASIA.value,
                     "name": "Rahasia: identitas disembunyikan dan aduan tidak dipublikasikan"}]},
        {"variable": True, "code": "kelurahan", "datatype": "singlevaluelist", "required": False,
         "datatype_description": None, "order": 2, "description": "Kelurahan tempat kejadian, bila ada.",
         "values": kelurahan}]}


def request_entry(found: ComplaintStatusView) -> dict[str, Any]:
    """A complaint as Open311 reads it: its status and unit, never the reporter, the text or the place."""
    service = categories().get(found.category or "") or categories()[OTHER]
    return {"service_request_id": found.tracking_code,
            "status": "closed" if found.status in CLOSED else "open",
            "status_notes": found.description, "service_name": service.name, "service_code": service.code,
            "description": None, "agency_responsible": found.unit_name, "service_notice": None,
            "requested_datetime": _w3(found.received_at or found.status_at or found.updated_at),
            "updated_datetime": _w3(found.updated_at), "expected_datetime": None, "address": None,
            "address_id": None, "zipcode": None, "lat": None, "long": None, "media_url": None}


def _client(web: WebIntake, api_key: str | None) -> str:
    """The name of the client whose key this is (compared in constant time, every key tried)."""
    if not api_key:
        raise Refused(403, "api_key missing: send it in the request body")
    found = None
    for name, key in web.settings.open311_api_keys.items():
        if hmac.compare_digest(key.get_secret_value().encode(), api_key.encode()):
            found = name
    if found is None:
        raise Refused(403, "Invalid api_key received -- can't proceed with create_request.")
    return found


def _text(form: FormData, name: str, limit: int) -> str | None:
    value = str(form.get(name) or "").strip()
    if not value:
        return None
    try:
        return clean_text(value, limit) or None
    except InvalidText as error:
        raise Refused(400, f"{name}: {error}") from error


def _attributes(form: FormData) -> dict[str, str]:
    """attribute[code]=value (attribute[code][]=value for a list: none of ours is one)."""
    found: dict[str, str] = {}
    for key in form:
        if not key.startswith("attribute["):
            continue
        code = key[len("attribute["):].split("]", 1)[0]
        if code not in ATTRIBUTES:
            raise Refused(400, f"unknown attribute {code[:40]!r}: this service knows {', '.join(ATTRIBUTES)}")
        values = form.getlist(key)
        if len(values) != 1:
            raise Refused(400, f"attribute[{code}] takes one value")
        found[code] = str(values[0]).strip()
    return found


def complaint_from(form: FormData, category: Category, client: str, idempotency_key: str | None,
                   ) -> tuple[ComplaintReceived, list[str]]:
    """The complaint a POST describes, and the fields that were sent but are not kept."""
    text = _text(form, "description", MAX_TEXT)
    if text is None or len(text) < MIN_TEXT:
        raise Refused(400, f"description is required: at least {MIN_TEXT} characters of what happened")
    attributes = _attributes(form)
    try:
        anonymity = Anonymity(attributes.get("anonimitas") or Anonymity.NONE.value)
    except ValueError as error:
        raise Refused(400, "attribute[anonimitas] must be none, anonim or rahasia") from error
    email = None
    if raw_email := str(form.get("email") or "").strip():
        try:
            email = validate_email(raw_email, check_deliverability=False).normalized
        except EmailNotValidError as error:
            raise Refused(400, "email is not a valid e-mail address") from error
    phone = None
    if raw_phone := str(form.get("phone") or "").strip():
        phone = to_e164(raw_phone)
        if phone is None:
            raise Refused(400, "phone is not a valid telephone number")
    name = " ".join(f"{form.get('first_name') or ''} {form.get('last_name') or ''}".split())[:200] or None
    reporter = Reporter(name=name, phone=phone, email=email)
    location = None
    lat, lon = str(form.get("lat") or "").strip(), str(form.get("long") or "").strip()
    if lat or lon:
        try:
            location = Location(latitude=float(lat), longitude=float(lon))
        except (ValueError, ValidationError) as error:
            raise Refused(400, "lat and long must both be sent, as WGS84 degrees") from error
    place = place_of(attributes.get("kelurahan"), _text(form, "address_string", MAX_ADDRESS))
    if attributes.get("kelurahan") and (place is None or place.kelurahan is None):
        raise Refused(400, "attribute[kelurahan] is not a kelurahan of Kota Kediri: see the service definition")
    # A retry with the same Idempotency-Key and the same content is the same complaint (as in the JSON API).
    message_id = scoped("open311", f"{client}:{idempotency_key or uuid.uuid4()}", text, reporter, anonymity,
                        category.code, location, place)
    event = ComplaintReceived.new(channel=Channel.WEB, channel_message_id=message_id, text=text, producer=SERVICE,
                                  anonymity=anonymity, category=category.code, reporter=reporter,
                                  location=location, place=place)
    return event, [name for name in NOT_KEPT if str(form.get(name) or "").strip()]


def notice(not_kept: list[str]) -> str:
    text = ("Aduan diterima. Simpan nomor ini (kode lacak) untuk melihat perkembangannya; unit kerja "
            "menindaklanjuti dalam 5 hari kerja setelah aduan diteruskan.")
    return f"{text} Tidak disimpan: {', '.join(not_kept)}." if not_kept else text


@router.get("/discovery.{fmt}")
async def discovery(request: Request, fmt: str) -> Response:
    """Service Discovery: where the GeoReport v2 endpoint is and what it speaks."""
    try:
        base = str(request.base_url).rstrip("/") + "/open311/v2"
        return _render(_format(fmt), "discovery", None, {
            "changeset": "2026-12-01T00:00:00+07:00", "contact": "PPID Kota Kediri, ppid@kedirikota.go.id",
            "key_service": "Kunci API (api_key) diberikan oleh Diskominfo Kota Kediri: ppid@kedirikota.go.id",
            "endpoints": [{"specification": SPECIFICATION, "url": base, "changeset": "2026-12-01T00:00:00+07:00",
                           "type": "production", "formats": ["text/xml", "application/json"]}]})
    except Refused as refused:
        return _errors(fmt, refused)


@router.get("/v2/services.{fmt}")
async def service_list(fmt: str, jurisdiction_id: str | None = None) -> Response:
    try:
        _jurisdiction(jurisdiction_id)
        return _render(_format(fmt), "services", "service", [service_entry(c) for c in categories().values()])
    except Refused as refused:
        return _errors(fmt, refused)


@router.get("/v2/services/{service_code}.{fmt}")
async def service_definition_of(service_code: str, fmt: str, jurisdiction_id: str | None = None) -> Response:
    try:
        _format(fmt)
        _jurisdiction(jurisdiction_id)
        return _render(fmt, "service_definition", None, service_definition(_service(service_code)))
    except Refused as refused:
        return _errors(fmt, refused)


@router.post("/v2/requests.{fmt}")
async def create_request(request: Request, fmt: str, idempotency_key: str | None = Header(default=None, max_length=200),
                         web: WebIntake = Depends(web_intake)) -> Response:
    """POST Service Request: application/x-www-form-urlencoded (multipart/form-data without files is read too)."""
    try:
        _format(fmt)
        if not request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded",
                                                                     "multipart/form-data")):
            raise Refused(400, "send the request as application/x-www-form-urlencoded")
        try:
            form = await request.form(max_files=0, max_fields=60)
        except (MultiPartException, UnicodeDecodeError) as error:
            raise Refused(400, "the request body is not a readable form") from error
        client = _client(web, str(form.get("api_key") or "") or None)
        if wait := web.open311_limiter.allow(client):
            return _errors(fmt, Refused(429, "too many requests from this client; try again later"),
                           {"Retry-After": str(int(wait) + 1)})
        _jurisdiction(str(form.get("jurisdiction_id") or "") or None)
        category = _service(str(form.get("service_code") or "") or None)
        event, not_kept = complaint_from(form, category, client, idempotency_key)
        try:
            await web.accept(event)
        except BrokerUnavailable:
            return _errors(fmt, Refused(503, "the service is busy; send the same request again shortly"),
                           {"Retry-After": "5"})
        log.info("open311_request_accepted", complaint_id=event.complaint_id, client=client,
                 service_code=category.code, not_kept=not_kept)
        return _render(fmt, "service_requests", "request", [
            {"service_request_id": event.tracking_code, "service_notice": notice(not_kept), "account_id": None}],
            status=201)
    except Refused as refused:
        return _errors(fmt, refused)


@router.get("/v2/requests.{fmt}")
async def requests_by_id(fmt: str, service_request_id: str | None = None, jurisdiction_id: str | None = None,
                         web: WebIntake = Depends(web_intake)) -> Response:
    """GET Service Requests, by service_request_id only (comma delimited)."""
    try:
        _format(fmt)
        _jurisdiction(jurisdiction_id)
        if not service_request_id:
            raise Refused(400, "service_request_id is required: complaints are not listed publicly")
        wanted = [part.strip() for part in service_request_id.split(",") if part.strip()]
        if len(wanted) > MAX_IDS:
            raise Refused(400, f"at most {MAX_IDS} service_request_id values at once")
        codes = list(dict.fromkeys(code for part in wanted if (code := normalise_tracking_code(part))))
        found = [view for code in codes if (view := await web.status.find(code)) is not None]
        return _render(fmt, "service_requests", "request", [request_entry(view) for view in found])
    except Refused as refused:
        return _errors(fmt, refused)


@router.get("/v2/requests/{service_request_id}.{fmt}")
async def request_by_id(service_request_id: str, fmt: str, jurisdiction_id: str | None = None,
                        web: WebIntake = Depends(web_intake)) -> Response:
    try:
        _format(fmt)
        _jurisdiction(jurisdiction_id)
        code = normalise_tracking_code(service_request_id)
        found = await web.status.find(code) if code else None
        if found is None:
            raise Refused(404, "service_request_id not found")
        return _render(fmt, "service_requests", "request", [request_entry(found)])
    except Refused as refused:
        return _errors(fmt, refused)


@router.get("/v2/tokens/{token}.{fmt}")
async def token(token: str, fmt: str) -> Response:
    return _errors(fmt, Refused(404, "no tokens here: every request is answered with its service_request_id"))
