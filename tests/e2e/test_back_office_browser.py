"""The PPID back-office in headless chromium (issue 18): a citizen's form that no rule places reaches the
triage queue; a clerk signs in, opens it, sees the photo and the place, forwards it to a unit with a reason,
and the unit finds it in its inbox; a test message is closed as no complaint; every page (deadlines, search,
reports, contact views) works, and each passes axe-core's WCAG 2.1 A/AA checks. No page needs JavaScript."""

from __future__ import annotations

import json

import pytest

from tests.e2e.test_web_form_browser import browser as browser  # noqa: F401  (the fixture)
from tests.support import images
from tests.support.accessibility import violations

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.kafka, pytest.mark.postgres]


def test_a_clerk_clears_the_triage_queue_and_the_unit_receives_the_complaint(processes, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import Select, WebDriverWait

    def wait_for(locator: tuple[str, str], seconds: float = 30):
        return WebDriverWait(browser, seconds).until(shown.presence_of_element_located(locator),
                                                     message=browser.page_source[:2000])

    def accessible(page: str) -> None:
        assert violations(browser) == [], page

    web = processes.start("web", "services.intake.web", "ADUAN_WEB_PORT")
    router = processes.start("router", "services.router", "ADUAN_ROUTER_PORT", {
        "ADUAN_ROUTER_OPERATOR_TOKENS": json.dumps({"ani": "ani-pass-ppid"}),
        "ADUAN_ROUTER_OPERATOR_ROLES": json.dumps({"ani": "admin"}),
        "ADUAN_ROUTER_UNIT_TOKENS": json.dumps({"hukum": "hukum-pass"}),
        "ADUAN_ROUTER_INBOX_SECRET": "inbox-secret-for-the-browser-test-0123456789",
        "ADUAN_ROUTER_INBOX_COOKIE_SECURE": "false"})

    def submit(text: str, photo_name: str | None = None) -> str:
        browser.get(web.url + "/")
        browser.find_element(By.ID, "text").send_keys(text)
        browser.find_element(By.ID, "name").send_keys("Siti Aminah")  # not anonymous: the unit may see her name
        Select(browser.find_element(By.ID, "kelurahan")).select_by_visible_text("Bandar Lor")
        if photo_name:
            photo = tmp_path / photo_name
            photo.write_bytes(images.png(64, 48))
            browser.find_element(By.ID, "photo").send_keys(str(photo))
        browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        return wait_for((By.ID, "tracking-code")).text

    code = submit("Mohon info jadwal posyandu bulan depan di kelurahan kami.", "jadwal.png")
    test_message = submit("tes tes, apakah formulir ini jalan?")

    browser.get(router.url + "/ppid")  # no session: the sign-in page
    assert browser.current_url.endswith("/ppid/masuk")
    accessible("sign-in")
    browser.find_element(By.ID, "name").send_keys("ani")
    browser.find_element(By.ID, "password").send_keys("ani-pass-ppid")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    # The sign-in answered (its cookie set) before anything else loads: a navigation started at once would
    # cancel the form's and leave the browser signed out.
    WebDriverWait(browser, 30).until(lambda b: b.current_url.endswith("/ppid"), message=browser.page_source[:2000])
    WebDriverWait(browser, 90).until(lambda b: (b.get(router.url + "/ppid") or True) and code in b.page_source
                                     and test_message in b.page_source,
                                     message="the complaints never reached the triage queue")
    accessible("queue")

    browser.find_element(By.LINK_TEXT, code).click()
    wait_for((By.ID, "alasan"))
    assert "Kel. Bandar Lor, Kec. Mojoroto" in browser.page_source and 'aturan "fallback"' in browser.page_source
    thumbnail = wait_for((By.CSS_SELECTOR, "ul.evidence img"))
    WebDriverWait(browser, 15).until(lambda b: b.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", thumbnail), message="the thumbnail not drawn")
    accessible("complaint")
    Select(browser.find_element(By.ID, "unit")).select_by_visible_text("Bagian Hukum Sekretariat Daerah")
    browser.find_element(By.ID, "alasan").send_keys("Permintaan informasi layanan; diteruskan untuk dijawab")
    browser.find_element(By.XPATH, "//button[text()='Teruskan']").click()
    WebDriverWait(browser, 30).until(lambda b: b.current_url.endswith("/ppid") and code not in b.page_source,
                                     message=browser.page_source[:2000])

    browser.find_element(By.LINK_TEXT, test_message).click()
    browser.find_element(By.ID, "alasan-bukan").send_keys("Pesan uji coba formulir, bukan aduan")
    browser.find_element(By.XPATH, "//button[text()='Tutup sebagai bukan aduan']").click()
    WebDriverWait(browser, 30).until(lambda b: b.current_url.endswith("/ppid") and "Antrean kosong" in b.page_source,
                                     message=browser.page_source[:2000])

    browser.find_element(By.LINK_TEXT, "Tenggat").click()
    wait_for((By.XPATH, "//h1[text()='Tenggat per unit']"))
    assert "Bagian Hukum Sekretariat Daerah" in browser.page_source
    accessible("deadlines")

    browser.find_element(By.LINK_TEXT, "Cari aduan").click()
    browser.find_element(By.ID, "kata").send_keys("posyandu")
    Select(browser.find_element(By.ID, "kecamatan")).select_by_visible_text("Mojoroto")
    browser.find_element(By.XPATH, "//button[text()='Cari']").click()
    wait_for((By.LINK_TEXT, code))
    assert test_message not in browser.page_source
    accessible("search")

    browser.find_element(By.LINK_TEXT, "Laporan").click()
    browser.find_element(By.XPATH, "//button[text()='Tampilkan']").click()  # this month, filled in
    wait_for((By.LINK_TEXT, "report.html")).click()
    WebDriverWait(browser, 30).until(lambda b: len(b.find_elements(By.TAG_NAME, "svg")) == 4,
                                     message=browser.page_source[:2000])
    browser.back()
    accessible("reports")

    browser.find_element(By.LINK_TEXT, "Akses kontak pelapor").click()
    wait_for((By.XPATH, "//h1[text()='Akses kontak pelapor']"))
    assert code in browser.page_source  # the web form's reporter let the unit see their contact: viewed by ani
    accessible("contact views")
    browser.find_element(By.XPATH, "//button[text()='Keluar']").click()
    WebDriverWait(browser, 30).until(lambda b: b.current_url.endswith("/ppid/masuk"))
    browser.get(router.url + "/ppid")
    assert browser.current_url.endswith("/ppid/masuk")

    browser.get(router.url + "/unit/masuk")
    browser.find_element(By.NAME, "unit").send_keys("hukum")
    browser.find_element(By.NAME, "token").send_keys("hukum-pass")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for((By.LINK_TEXT, code)).click()
    wait_for((By.XPATH, "//h2[text()='Dasar penerusan']"))
    assert "Dialihkan oleh operator:ani" in browser.page_source
    assert "Permintaan informasi layanan" in browser.page_source
