"""The web form in a real headless browser (Debian's chromium through chromedriver): fill it in,
submit, read the tracking code, open the status page. No JavaScript is needed by the page."""

from __future__ import annotations

import re
import shutil
import tempfile

import pytest

from tests.support import images

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.kafka, pytest.mark.postgres]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def browser():
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail("chromium and chromium-driver are missing: `make test` installs them (Debian packages)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="aduan-chromium-")
    # This machine's network is closed: no background connections, no first-run, no sync.
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-extensions", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def test_citizen_submits_the_form_and_checks_the_status(processes, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    def wait_for(element_id: str):
        """A click starts a navigation and returns; wait for the next page's element."""
        return WebDriverWait(browser, 30).until(shown.presence_of_element_located((By.ID, element_id)),
                                                message=browser.page_source[:2000])

    web = processes.start("web", "services.intake.web", "ADUAN_WEB_PORT")
    browser.get(web.url + "/")
    assert "Sampaikan aduan" in browser.page_source
    browser.find_element(By.ID, "text").send_keys("Lampu penerangan jalan di Jl. Dhoho mati sejak seminggu.")
    browser.find_element(By.CSS_SELECTOR, "input[name=anonymity][value=anonim]").click()
    browser.find_element(By.ID, "phone").send_keys("0812-3456-7890")
    photo = tmp_path / "lampu.png"
    photo.write_bytes(images.png())
    browser.find_element(By.ID, "photo").send_keys(str(photo))
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    code = wait_for("tracking-code").text
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", code), browser.page_source[:2000]
    assert "Foto terlampir" in browser.page_source
    browser.find_element(By.ID, "status-link").click()
    assert wait_for("status-text").text.startswith("Aduan")
    assert code in browser.page_source


def test_a_citizen_picks_a_kelurahan_and_gives_the_phones_position_and_a_unit_gets_both(
        processes, browser, infra, topics):
    import asyncio

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import Select, WebDriverWait

    from tests.support.kafka import json_values, read_topic

    web = processes.start("web", "services.intake.web", "ADUAN_WEB_PORT")
    # The phone's position, as chromium's geolocation would give it once the citizen allows it.
    browser.execute_cdp_cmd("Browser.grantPermissions", {"origin": web.url, "permissions": ["geolocation"]})
    browser.execute_cdp_cmd("Emulation.setGeolocationOverride",
                            {"latitude": -7.8166, "longitude": 112.0112, "accuracy": 12})
    browser.get(web.url + "/")
    browser.find_element(By.ID, "text").send_keys("Got mampet, air meluap ke jalan setiap hujan deras.")
    kelurahan = Select(browser.find_element(By.ID, "kelurahan"))
    assert [o.text for o in kelurahan.options].count("Banjar Mlati") == 1 and len(kelurahan.options) == 47
    kelurahan.select_by_visible_text("Banjar Mlati")
    browser.find_element(By.ID, "address").send_keys("gang 3 depan masjid")
    browser.find_element(By.ID, "locate").click()  # hidden without JavaScript; shown here
    WebDriverWait(browser, 15).until(shown.text_to_be_present_in_element((By.ID, "located"), "Lokasi terpasang"),
                                     message="the position never reached the form")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    code = WebDriverWait(browser, 30).until(shown.presence_of_element_located((By.ID, "tracking-code"))).text

    records = asyncio.run(read_topic(infra.kafka_bootstrap, topics.received,
                                     until=lambda r: any(v["tracking_code"] == code for v in json_values(r))))
    [event] = [v for v in json_values(records) if v["tracking_code"] == code]
    assert event["place"] == {"kelurahan": "Banjar Mlati", "kecamatan": "Mojoroto", "street": "gang 3 depan masjid"}
    assert (event["location"]["latitude"], event["location"]["longitude"]) == (-7.8166, 112.0112)


def test_without_javascript_the_location_button_stays_hidden_and_the_form_still_sends(processes, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import Select, WebDriverWait

    web = processes.start("web", "services.intake.web", "ADUAN_WEB_PORT")
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    browser.get(web.url + "/")
    assert not browser.find_element(By.ID, "use-location").is_displayed()
    browser.find_element(By.ID, "text").send_keys("Lampu penerangan jalan mati sejak seminggu.")
    Select(browser.find_element(By.ID, "kelurahan")).select_by_visible_text("Pakelan")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 30).until(shown.presence_of_element_located((By.ID, "tracking-code")),
                                     message=browser.page_source[:2000])


def test_a_citizens_photo_on_the_form_is_seen_by_the_unit_in_its_inbox(processes, browser, tmp_path):
    """The whole way in chromium: the citizen's form with a photo and a kelurahan, the router's assignment, the
    unit signing in to its inbox, the thumbnail drawn, the full-size photo opened by a click."""
    import json

    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import Select, WebDriverWait

    def wait_for(locator: tuple[str, str]):
        return WebDriverWait(browser, 60).until(shown.presence_of_element_located(locator),
                                                message=browser.page_source[:2000])

    web = processes.start("web", "services.intake.web", "ADUAN_WEB_PORT")
    router = processes.start("router", "services.router", "ADUAN_ROUTER_PORT", {
        "ADUAN_ROUTER_UNIT_TOKENS": json.dumps({"hukum": "hukum-pass"}),
        "ADUAN_ROUTER_INBOX_SECRET": "inbox-secret-for-the-browser-test-0123456789",
        "ADUAN_ROUTER_INBOX_COOKIE_SECURE": "false"})
    browser.get(web.url + "/")
    browser.find_element(By.ID, "text").send_keys("Mohon bantuan hukum soal sengketa batas tanah dengan tetangga.")
    Select(browser.find_element(By.ID, "kelurahan")).select_by_visible_text("Bandar Lor")
    photo = tmp_path / "patok.png"
    photo.write_bytes(images.png(64, 48))
    browser.find_element(By.ID, "photo").send_keys(str(photo))
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    code = wait_for((By.ID, "tracking-code")).text

    browser.get(router.url + "/unit/masuk")
    browser.find_element(By.NAME, "unit").send_keys("hukum")
    browser.find_element(By.NAME, "token").send_keys("hukum-pass")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    # Signed in (the cookie set) before the next navigation, which would otherwise cancel the form's.
    WebDriverWait(browser, 30).until(lambda b: b.current_url.endswith("/unit"), message=browser.page_source[:2000])
    WebDriverWait(browser, 60).until(lambda b: (b.get(router.url + f"/unit/aduan/{code}") or True)
                                     and "Wilayah" in b.page_source, message="the complaint never reached the inbox")
    assert "Kel. Bandar Lor, Kec. Mojoroto" in browser.page_source
    thumbnail = wait_for((By.CSS_SELECTOR, "ul.evidence img"))
    WebDriverWait(browser, 15).until(lambda b: b.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", thumbnail), message="the thumbnail not drawn")
    thumbnail.click()
    WebDriverWait(browser, 15).until(lambda b: "/lampiran/0" in b.current_url and "ukuran" not in b.current_url)
    size = browser.execute_script("var i = document.images[0]; return [i.naturalWidth, i.naturalHeight]")
    assert size == [64, 48]  # the full-size photo, as the citizen sent it (pixels only)
