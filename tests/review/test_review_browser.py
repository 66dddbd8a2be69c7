"""A real browser (Debian's headless Chromium through chromedriver and Selenium) logs in,
uploads a log with the form, opens the patient timeline and the cohort view, checks the
numbers shown against the simulation's ground truth, and saves screenshots."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import OUT, PASSWORD, enrol, need, setup_sites
from review_web import Server
from sqlalchemy import select

from pumphost.review import cohort, compare, db
from pumphost.review import simulate as sim
from pumphost.review.client import upload

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")


@pytest.fixture
def browser():  # noqa: ANN201
    need(CHROMIUM is not None and DRIVER is not None,
         "Debian's chromium and chromium-driver are not installed")  # fmt: skip
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM  # type: ignore[assignment]
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
              "--window-size=1280,2000"):  # fmt: skip
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(DRIVER), options=opts)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()


def test_a_reviewer_in_the_browser(browser, tmp_path: Path, cohort_dir: Path) -> None:  # noqa: ANN001
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    OUT.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{tmp_path / 'review.sqlite3'}"
    setup_sites(url)
    tokens = enrol(url, cohort_dir)
    truth = sim.load_truth(cohort_dir)
    by_form = next(t for t in truth if t.alarms) if any(t.alarms for t in truth) else truth[0]
    with Server(url) as s:
        for t in truth:  # every pump but one uploads with its token
            if t is not by_form:
                upload(cohort_dir / t.file, s.base, tokens[t.serial])
        b = browser
        b.get(s.base + "/")
        assert "Log in" in b.page_source  # not logged in: the login page
        b.find_element(By.ID, "username").send_keys("alice")
        b.find_element(By.ID, "password").send_keys(PASSWORD)
        b.find_element(By.ID, "login").click()
        # the page is replaced under a wait's lookup while it loads: look again, not fail
        wait = WebDriverWait(b, 60, ignored_exceptions=(StaleElementReferenceException,))
        wait.until(lambda d: "alice (reviewer)" in d.find_element(By.TAG_NAME, "nav").text)
        b.save_screenshot(str(OUT / "1-pumps-and-patients.png"))

        b.get(s.base + "/upload")
        Select(b.find_element(By.ID, "device")).select_by_visible_text(
            f"north / {by_form.serial} simulated"
        )
        b.find_element(By.ID, "file").send_keys(str(cohort_dir / by_form.file))
        b.find_element(By.ID, "send").click()
        shown = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#done, #error"))
        done = shown[0].text
        assert done.startswith("Stored ") and f"from {by_form.serial}" in done
        b.save_screenshot(str(OUT / "2-upload.png"))

        with s.engine.begin() as c:
            pid = c.execute(
                select(db.patients.c.id).where(db.patients.c.code == by_form.code)
            ).scalar_one()
        b.get(f"{s.base}/patients/{pid}")
        assert b.find_element(By.ID, "code").text == by_form.code
        assert b.find_element(By.ID, "start-dose").text == str(by_form.start_dose)
        assert abs(float(b.find_element(By.ID, "delivered").text) - by_form.delivered_ug) < 0.05
        assert b.find_element(By.ID, "alarms").text == str(by_form.alarms)
        assert len(b.find_elements(By.CSS_SELECTOR, "figure svg")) == 3
        b.save_screenshot(str(OUT / "3-patient-timeline.png"))

        b.get(s.base + "/cohort")
        shown = {
            td.get_attribute("data-key"): td.text
            for td in b.find_elements(By.CSS_SELECTOR, "#cohort-table td[data-key]")
        }
        assert shown == cohort.table(compare.truth_figures(cohort_dir)).rows()
        b.save_screenshot(str(OUT / "4-cohort.png"))
    for name in ("1-pumps-and-patients", "2-upload", "3-patient-timeline", "4-cohort"):
        assert (OUT / f"{name}.png").stat().st_size > 10_000
