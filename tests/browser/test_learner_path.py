"""A learner's path through JupyterLab: open an exercise, run it, solve one function, run it again.

JupyterLab (the course's pinned version, this venv's kernel) runs headless on 127.0.0.1 with
a token over a temporary copy of exercises/, with its own settings, workspace and runtime
folders. Headless Chromium opens the chapter 1 exercise notebook, runs all cells from the Run
menu, and finds check()'s "not yet solved" feedback on the page. It then replaces the first
TODO function with the solution's body by typing into the cell editor, runs all cells again,
and finds that exercise's score line at full marks (the others still "not yet solved").
The server is shut down through its API; no server or kernel process may be left.
Screenshot: _build/screenshots/learner_path.png. Run with `make test-browser`.
"""

from __future__ import annotations

import ast
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "_build" / "screenshots"
NOTEBOOK = "ch01_log_derivative_trick.ipynb"
EXERCISE = "ch01.gaussian_score_mean"
FUNCTION = "gaussian_score_mean"
SLOW = 300  # seconds: kernel start and a full run on a busy 2-core machine

pytestmark = pytest.mark.browser

# JupyterLab settings for the test: every cell kept in the page (no virtual scrolling), no news
# or update checks (they would fetch from the internet and pop up a toast).
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def solution_function(name: str) -> tuple[str, list[str]]:
    """The def line and the body statements (docstring dropped) of ``name`` in solutions/."""
    nb = json.loads((ROOT / "solutions" / NOTEBOOK).read_text())
    for cell in nb["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and f"def {name}(" in source:
            fn = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == name)
            body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
            lines = [ast.get_source_segment(source, s) for s in body]
            assert all("\n" not in line for line in lines), "the solution body must be one line per statement"
            return source.splitlines()[fn.lineno - 1], lines
    raise AssertionError(f"no def {name} in solutions/{NOTEBOOK}")


def solution_score(exercise: str) -> str:
    nb = json.loads((ROOT / "solutions" / NOTEBOOK).read_text())
    text = "".join("".join(o.get("text", "")) for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"])
    match = re.search(rf"{re.escape(exercise)}: (\d+(?:\.\d+)?)/(\d+(?:\.\d+)?)", text)
    assert match and match.group(1) == match.group(2), f"solutions/{NOTEBOOK} does not store full marks for {exercise}"
    return match.group(0)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab over a copy of exercises/; yields (base URL, token); stops it and checks no process is left."""
    import psutil

    tmp = tmp_path_factory.mktemp("learner")
    work = tmp / "exercises"
    shutil.copytree(ROOT / "exercises", work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = tmp / "settings"
    for name, value in SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
           f"--LabApp.user_settings_dir={settings}", f"--LabApp.workspaces_dir={tmp / 'workspaces'}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp / "config"), JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               PYTHONHASHSEED="0")
    log = open(tmp / "jupyter.log", "w")
    server = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    processes: dict[int, psutil.Process] = {}
    try:
        deadline = time.monotonic() + SLOW
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not start:\n{(tmp / 'jupyter.log').read_text()[-3000:]}")
            time.sleep(0.5)
        state = {"processes": processes, "server": server}
        yield base, token, state
    finally:
        # every process the server started (kernels) before it stops, then a clean shutdown
        try:
            for child in psutil.Process(server.pid).children(recursive=True):
                processes[child.pid] = child
        except psutil.NoSuchProcess:
            pass
        try:
            request = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
            urllib.request.urlopen(request, timeout=30).close()
        except OSError:
            pass
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.terminate()
            server.wait(timeout=30)
        log.close()
        gone, alive = psutil.wait_procs(list(processes.values()), timeout=30)
        for proc in alive:
            proc.kill()
        assert server.returncode is not None
        assert not alive, f"processes left after the server stopped: {[p.pid for p in alive]}"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail("headless Chromium is needed: apt-get install chromium chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,1400"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(SLOW)
    driver.set_script_timeout(SLOW)
    yield driver
    driver.quit()


def wait_for(driver, predicate, what: str, timeout: float = SLOW):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    SHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SHOTS / "learner_path_timeout.png"))
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; prompts {prompts(driver)}; "
                         f"page text:\n{notebook_text(driver)[-3000:]}")


def notebook_text(driver) -> str:
    return driver.execute_script(
        "const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');"
        "return nb ? nb.innerText : document.body.innerText;")


def prompts(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt'))"
        ".map(p => p.innerText.trim());")


def run_all_from_menu(driver) -> None:
    """Run > Run All Cells, clicked in the menu bar as a learner would."""
    from selenium.webdriver.common.by import By

    menu = wait_for(driver, lambda: [e for e in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-itemLabel")
                                     if e.text.strip() == "Run"], "the Run menu")
    menu[0].click()
    item = wait_for(driver, lambda: [e for e in driver.find_elements(By.CSS_SELECTOR, ".lm-Menu-itemLabel")
                                     if e.text.strip() == "Run All Cells"], "Run All Cells")
    item[0].click()


def finished(driver, count: int) -> bool:
    """Every code cell shows an execution count, none is queued or running ([*])."""
    shown = prompts(driver)
    numbers = [p for p in shown if re.fullmatch(r"\[\d+\]:", p)]
    return len(shown) == count and len(numbers) == count


def test_learner_runs_an_exercise_solves_one_function_and_sees_full_marks(lab, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    base, token, _ = lab
    browser.get(f"{base}/lab/tree/{NOTEBOOK}?token={token}")
    stored = json.loads((ROOT / "exercises" / NOTEBOOK).read_text())["cells"]
    code_cells = sum(c["cell_type"] == "code" for c in stored)
    wait_for(browser, lambda: len(prompts(browser)) == code_cells, "the notebook's code cells")
    wait_for(browser, lambda: browser.execute_script(
        "const s = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');"
        "return s && s.getAttribute('data-status') === 'idle';"), "the kernel to be idle")

    # 1. Run all, untouched: every check() says "not yet solved"
    run_all_from_menu(browser)
    wait_for(browser, lambda: finished(browser, code_cells), "the first run of all cells")
    text = notebook_text(browser)
    checks = len(re.findall(r"^check\(", "\n".join("".join(c["source"]) for c in stored if c["cell_type"] == "code"), re.M))
    assert text.lower().count("not yet solved") >= checks >= 1, text[-3000:]
    assert re.search(rf"{re.escape(EXERCISE)}: 0(\.0)?/\d+", text), text[-3000:]

    # 2. Replace the TODO function through the page: select the cell's text and type the solution
    def_line, body = solution_function(FUNCTION)
    editor = wait_for(browser, lambda: [e for e in browser.find_elements(By.CSS_SELECTOR, ".jp-CodeCell .cm-content")
                                        if f"def {FUNCTION}(" in e.text], f"the cell defining {FUNCTION}")[0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", editor)
    editor.click()
    ActionChains(browser).key_down(Keys.CONTROL).send_keys("a").key_up(Keys.CONTROL).perform()
    # the editor indents after "def ...:" and keeps the indentation of the line above
    ActionChains(browser).send_keys(def_line + Keys.ENTER + (Keys.ENTER).join(body)).perform()
    typed = browser.execute_script("return arguments[0].innerText;", editor)
    expected = "\n".join([def_line] + [f"    {line}" for line in body])
    assert [line.rstrip() for line in typed.splitlines()] == expected.splitlines(), f"editor holds:\n{typed}"

    # 3. Run all again: that exercise's score line is full marks, the others still unsolved
    before = set(prompts(browser))
    run_all_from_menu(browser)
    wait_for(browser, lambda: finished(browser, code_cells) and set(prompts(browser)) != before, "the second run")
    full = solution_score(EXERCISE)
    text = notebook_text(browser)
    assert full in text, f"expected '{full}' on the page:\n{text[-3000:]}"
    assert "not yet solved" in text.lower()  # the other exercises are untouched

    score = [e for e in browser.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output") if full in e.text][0]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", score)
    time.sleep(0.5)
    SHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SHOTS / "learner_path.png"))
