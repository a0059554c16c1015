"""The PPID back-office in headless chromium (issue 18): a citizen's form that no rule places reaches the
triage queue; a clerk signs in, opens it, sees the photo and the place, forwards it to a unit with a reason,
and the unit finds it in its inbox. The pages need no JavaScript."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_web_form_browser import browser as browser  # noqa: F401  (the fixture)
from tests.support import images

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.kafka, pytest.mark.postgres]


def test_a_clerk_clears_the_triage_queue_and_the_unit_receives_the_complaint(processes, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import Select, WebDriverWait

    def wait_for(locator: tuple[str, str], seconds: float = 30):
        return WebDriverWait(browser, seconds).until(shown.presence_of_element_located(locator),
                                                     message=browser.page_source[:2000])

    web = processes.start("web", "services.intake.web", "ADUAN_WEB_PORT")
    router = processes.start("router", "services.router", "ADUAN_ROUTER_PORT", {
        "ADUAN_ROUTER_OPERATOR_TOKENS": json.dumps({"ani": "ani-pass-ppid"}),
        "ADUAN_ROUTER_UNIT_TOKENS": json.dumps({"hukum": "hukum-pass"}),
        "ADUAN_ROUTER_INBOX_SECRET": "inbox-secret-for-the-browser-test-0123456789",
        "ADUAN_ROUTER_INBOX_COOKIE_SECURE": "false"})

    browser.get(web.url + "/")
    browser.find_element(By.ID, "text").send_keys("Mohon info jadwal posyandu bulan depan di kelurahan kami.")
    Select(browser.find_element(By.ID, "kelurahan")).select_by_visible_text("Bandar Lor")
    photo = tmp_path / "jadwal.png"
    photo.write_bytes(images.png(64, 48))
    browser.find_element(By.ID, "photo").send_keys(str(photo))
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    code = wait_for((By.ID, "tracking-code")).text

    browser.get(router.url + "/ppid")  # no session: the sign-in page
    assert browser.current_url.endswith("/ppid/masuk")
    browser.find_element(By.ID, "name").send_keys("ani")
    browser.find_element(By.ID, "password").send_keys("ani-pass-ppid")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 60).until(lambda b: (b.get(router.url + "/ppid") or True) and code in b.page_source,
                                     message="the complaint never reached the triage queue")
    browser.find_element(By.LINK_TEXT, code).click()
    wait_for((By.ID, "alasan"))
    assert "Kel. Bandar Lor, Kec. Mojoroto" in browser.page_source and 'aturan "fallback"' in browser.page_source
    thumbnail = wait_for((By.CSS_SELECTOR, "ul.evidence img"))
    WebDriverWait(browser, 15).until(lambda b: b.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", thumbnail), message="the thumbnail not drawn")
    Select(browser.find_element(By.ID, "unit")).select_by_visible_text("Bagian Hukum Sekretariat Daerah")
    browser.find_element(By.ID, "alasan").send_keys("Permintaan informasi layanan; diteruskan untuk dijawab")
    browser.find_element(By.XPATH, "//button[text()='Teruskan']").click()
    WebDriverWait(browser, 30).until(lambda b: b.current_url.endswith("/ppid") and "Antrean kosong" in b.page_source,
                                     message=browser.page_source[:2000])

    browser.get(router.url + "/unit/masuk")
    browser.find_element(By.NAME, "unit").send_keys("hukum")
    browser.find_element(By.NAME, "token").send_keys("hukum-pass")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for((By.LINK_TEXT, code)).click()
    wait_for((By.XPATH, "//h2[text()='Dasar penerusan']"))
    assert "Dialihkan oleh operator:ani" in browser.page_source
    assert "Permintaan informasi layanan" in browser.page_source
