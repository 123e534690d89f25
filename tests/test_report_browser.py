"""Open the HTML report in headless Chromium: every image loads and nothing reaches the console.

Chromium is Debian's /usr/bin/chromium (``make chromium`` installs it). Without it this test fails rather
than skips, so CI cannot pass without really running it. A probe script is put in a copy of the report;
it records window errors (resource errors included) and console.error calls, and, on load, every image's
state, into the DOM that ``--dump-dom`` prints. Chromium's own console log (stderr) must stay empty too.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from racksim.report import write_report
from tests.test_report import make_results
from tests.test_report_sections import annotate

CHROMIUM = os.environ.get("RACKSIM_CHROMIUM", "/usr/bin/chromium")
PROBE = """<script>
window.__errors = [];
window.addEventListener("error",
  (e) => window.__errors.push(String(e.message || (e.target && e.target.src) || e)), true);
const __consoleError = console.error;
console.error = (...args) => { window.__errors.push(args.join(" ")); __consoleError(...args); };
window.addEventListener("load", () => {
  const images = Array.from(document.images).map((i) => ({ok: i.complete && i.naturalWidth > 0, alt: i.alt}));
  const out = document.createElement("pre");
  out.id = "__probe";
  out.textContent = JSON.stringify({images: images, errors: window.__errors});
  document.body.appendChild(out);
});
</script>"""


def chromium() -> str:
    """The chromium binary, or fail: the browser test must run wherever `make test` runs."""
    found = CHROMIUM if Path(CHROMIUM).is_file() else shutil.which("chromium")
    if found is None:
        pytest.fail(f"chromium not found at {CHROMIUM}: run `make chromium` (apt-get install chromium)")
    return found


def open_in_chromium(page: Path, profile: Path) -> tuple[dict[str, list], str]:
    """(probe result, chromium's stderr) of loading `page` headless."""
    done = subprocess.run(
        [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-extensions", "--no-first-run",
         f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--enable-logging=stderr", "--v=0",
         "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=120, check=False)
    match = re.search(r'<pre id="__probe">(.*?)</pre>', done.stdout, re.DOTALL)
    assert match, f"the probe did not run (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(match.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                      .replace("&gt;", ">")), done.stderr


@pytest.mark.browser
def test_report_opens_in_chromium_with_every_image_and_no_error(tmp_path: Path) -> None:
    root = annotate(make_results(tmp_path / "results"))
    html = write_report(root)[0].read_text(encoding="utf-8")
    page = root / "probe.html"
    page.write_text(html.replace("<head>", "<head>\n" + PROBE, 1), encoding="utf-8")
    result, stderr = open_in_chromium(page, tmp_path / "profile")
    assert len(result["images"]) == html.count("<img ") > 0
    assert [image["alt"] for image in result["images"] if not image["ok"]] == []
    assert result["errors"] == []
    assert [line for line in stderr.splitlines() if ":CONSOLE" in line] == []


@pytest.mark.browser
def test_the_probe_sees_a_broken_image_and_a_console_error(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text(f"<html><head>{PROBE}</head><body><img src='missing.png' alt='gone'>"
                    "<script>console.error('boom')</script></body></html>", encoding="utf-8")
    result, stderr = open_in_chromium(page, tmp_path / "profile")
    assert [image["alt"] for image in result["images"] if not image["ok"]] == ["gone"]
    assert "boom" in result["errors"]
    assert any(":CONSOLE" in line and "boom" in line for line in stderr.splitlines())
