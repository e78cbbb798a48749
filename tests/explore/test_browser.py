"""The live explorer in a real browser: headless Chromium driven by selenium against a server
started here. Needs Debian's ``chromium`` and ``chromium-driver``; without them the tests are
skipped, except under CI (the ``CI`` environment variable set), where that is a failure.
selenium-manager never runs: the driver is given by path."""
import json
import os
import shutil
import time

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _require_browser():
    missing = [p for p in (CHROMIUM, DRIVER) if not os.path.exists(p)]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} missing but CI is set: .ci/run must install chromium and chromium-driver")
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install chromium chromium-driver); CI runs this test")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from hopdyn.explore import State
    from hopdyn.explore.app import Server, create_app

    downloads = tmp_path_factory.mktemp("downloads")
    opts = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1400,1000",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run"):
        opts.add_argument(flag)
    opts.binary_location = CHROMIUM
    opts.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                           "download.prompt_for_download": False})
    # a small grid keeps the tests quick (the 200² timing is measured outside the tests)
    with Server(create_app(state=State(n=60))) as server:
        driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)
        driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        try:
            yield driver, server.url, downloads
        finally:
            driver.quit()


def wait(driver, condition, timeout=60.0, what=""):  # generous: CI runs two test workers on 2 cores
    end = time.time() + timeout
    while time.time() < end:
        try:
            value = condition(driver)
        except Exception:  # noqa: BLE001 - the page is still rendering
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; error line: {text(driver, 'error')!r}")


def text(driver, id_):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, id_).text


def traces(driver, graph="plane"):
    return driver.execute_script(
        f"const g = document.querySelector('#{graph} .js-plotly-plot'); "
        "return g && g.data ? g.data.map(t => [t.type, t.name || '']) : null;")


def load(driver, url):
    driver.get(url)
    wait(driver, lambda d: "view updated" in text(d, "status"), what="the first view")
    settle(driver)


def settle(driver, quiet=1.0):
    """Wait until no Dash callback has been pending for ``quiet`` seconds: the controls echo the
    loaded state back through the reducer, so that what a test sees next is its own action's
    answer. (An upload no longer needs this: it has a callback of its own, and the reducer applies
    it whichever call comes first, see ``test_an_upload_overtaken_by_a_control_echo_is_still_applied``.)"""
    busy = "return document.querySelector('[data-dash-is-loading=\"true\"]') !== null"
    since = time.time()
    end = since + 60
    while time.time() < end:
        if driver.execute_script(busy):
            since = time.time()
        elif time.time() - since >= quiet:
            return
        time.sleep(0.05)
    raise AssertionError("the page never settled: a Dash callback stayed pending for 60 s")


def test_controls_and_clicks_recompute_the_view(browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver, url, _ = browser
    load(driver, url)
    kinds = traces(driver)
    assert kinds[0][0] == "heatmap" and ["scatter", "memories"] in kinds
    assert any(name.startswith("r* = ") for _, name in kinds)  # Theorem 1's radii are drawn
    assert "Theorem 1 (holds)" in text(driver, "info")
    # the β slider (log2 β): one step right is a quarter octave, 4 → 2^2.25
    driver.find_element(By.CSS_SELECTOR, "#beta [role=slider]").send_keys(Keys.ARROW_RIGHT)
    wait(driver, lambda d: text(d, "beta-text") == "β = 4.757", what="β = 4.757")
    wait(driver, lambda d: "beta=4.75683" in d.current_url, what="the URL to keep β")
    wait(driver, lambda d: "beta=4.75" in d.execute_script(
        "return document.querySelector('#plane .gtitle').textContent"), what="the network to be rebuilt")
    # vanilla: no gate, so no B0 and no Theorem 1; the page says why
    driver.find_element(By.CSS_SELECTOR, "#vanilla input").click()
    wait(driver, lambda d: text(d, "gamma-text") == "vanilla (no gate)", what="vanilla")
    wait(driver, lambda d: "theorem1:" in text(d, "info"), what="the note on Theorem 1")
    assert "LogSumExp(beta=4.75" in driver.execute_script("return document.querySelector('#plane .gtitle').textContent")
    # basins as the colours
    driver.find_element(By.CSS_SELECTOR, "#background input[value=basins]").click()
    wait(driver, lambda d: "basins (share of the square)" in text(d, "info"), what="the basins")
    assert traces(driver)[0] == ["heatmap", "basins"]
    # a click on the plane starts both simulators there
    area = driver.find_element(By.CSS_SELECTOR, "#plane .nsewdrag")
    ActionChains(driver).move_to_element_with_offset(area, 60, -40).click().perform()
    wait(driver, lambda d: len(traces(d, "energy") or []) == 2, what="the energy along both trajectories")
    names = [n for _, n in traces(driver)]
    assert any(n.startswith("start 0: ODE → ") for n in names) and any(n.startswith("start 0: map → ") for n in names)
    assert "starts=" in driver.current_url
    # the JSON export holds the same view
    driver.find_element(By.ID, "export-json").click()


def test_json_and_png_export_download_the_view(browser):
    from selenium.webdriver.common.by import By

    driver, _url, downloads = browser
    path = wait(driver, lambda d: next(iter(downloads.glob("hopdyn_explore.json")), None), what="the JSON download")
    data = json.loads(path.read_text())
    # the PNG button: plotly's own export of the figure as it is shown
    driver.find_element(By.ID, "export-png").click()
    png = wait(driver, lambda d: next(iter(downloads.glob("hopdyn_explore.png")), None), what="the PNG download")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert np.array(data["basins"]["labels"]).shape == (60, 60)
    assert data["network"]["memory"].startswith("LogSumExp(beta=4.75")
    assert len(data["trajectories"]) == 1 and data["trajectories"][0]["integrate"]["end"]


def test_url_restores_the_state_and_uploads_answer_in_the_page(browser, tmp_path):
    from selenium.webdriver.common.by import By

    driver, url, _ = browser
    load(driver, url + "?beta=2&gamma=vanilla&background=density")
    assert text(driver, "beta-text") == "β = 2" and text(driver, "gamma-text") == "vanilla (no gate)"
    assert driver.find_element(By.CSS_SELECTOR, "#vanilla input").is_selected()
    assert "density: the density p_H and B0 need a RecLag network" in text(driver, "info")
    g = np.random.default_rng(0)
    bad = g.standard_normal((4, 3))
    bad[0, 0] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    np.save(tmp_path / "xi.npy", g.standard_normal((20, 64)))
    upload = driver.find_element(By.CSS_SELECTOR, "#upload input[type=file]")
    upload.send_keys(str(tmp_path / "bad.npy"))
    wait(driver, lambda d: "NaN" in text(d, "error"), what="the NaN error")
    assert text(driver, "error").count("\n") == 0 and "bad.npy" in text(driver, "error")
    upload.send_keys(str(tmp_path / "xi.npy"))
    wait(driver, lambda d: "20 memories, N_V = 64" in d.execute_script(
        "return document.querySelector('#plane .gtitle').textContent"), what="the uploaded network")
    assert text(driver, "error") == ""
    assert driver.find_element(By.ID, "plane-box").is_displayed()  # the plane controls for N_V > 2
    # a direction of the wrong length is one line in the page
    driver.find_element(By.CSS_SELECTOR, "#plane-kind input[value=directions]").click()
    wait(driver, lambda d: "direction u needs N_V = 64" in text(d, "error"), what="the direction error")
