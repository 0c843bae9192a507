"""--html: a self-contained page, checked for structure, then rendered by
headless Chromium (Debian's chromium package) to a screenshot, a DOM dump
and a PDF, with the browser's console watched for errors."""
import os
import re
import shutil
import struct
import subprocess
import tempfile
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import START, record, run, run_json, write_log

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
API_NAMES = ["Invoices API", "Users API", "(no api name)"]
# The decision colours of the charts.
ACCEPT, REJECT, AUDIT_REJECT = (0x2E, 0x7D, 0x32), (0xC6, 0x28, 0x28), (0xEF, 0x9A, 0x00)


class Page(HTMLParser):
    """Collects what the structure tests look at."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.attrs = []
        self.title = ""
        self.h2 = []
        self.text = []
        self.sections = 0
        self.svgs = 0
        self.style = ""
        self._in = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, k, v or "") for k, v in attrs)
        if tag == "section" and ("class", "api") in attrs:
            self.sections += 1
        if tag == "svg":
            self.svgs += 1
        self._in.append(tag)

    def handle_endtag(self, tag):
        while self._in and self._in.pop() != tag:
            pass

    def handle_data(self, data):
        self.text.append(data)
        if not self._in:
            return
        if self._in[-1] == "title" and "head" in self._in:
            self.title += data
        elif self._in[-1] == "h2":
            self.h2.append(data)
        elif self._in[-1] == "style":
            self.style += data


@pytest.fixture(scope="module")
def report(scenario, tmp_path_factory):
    out = tmp_path_factory.mktemp("html") / "report.html"
    p = run("--html", out, scenario["path"], check=0)
    assert p.stdout == b"", "with --html alone, standard output stays empty"
    return out


def test_structure(report):
    html = report.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    page = Page()
    page.feed(html)
    assert page.title == "aud-audit report"
    assert page.sections == 3
    assert [h for h in page.h2 if h != "APIs"] == API_NAMES
    # Per API: the timeline and the audience chart, plus the bars in the
    # reasons table.
    assert page.svgs >= 6
    assert html.count('aria-label="decisions per hour"') == 3
    assert html.count('aria-label="requests per audience"') == 3
    for heading in ("Decisions per hour", "Audiences", "Reasons and hints", "Clients that need fixing"):
        assert html.count(f"<h3>{heading}</h3>") == 3
    assert "@media print" in page.style


def test_self_contained(report):
    html = report.read_text(encoding="utf-8")
    page = Page()
    page.feed(html)
    assert not {"script", "link", "iframe", "img", "object", "embed"} & set(page.tags)
    for tag, name, value in page.attrs:
        if name in ("src", "href", "xlink:href", "action", "data"):
            assert value.startswith("#"), (tag, name, value)
    assert "url(" not in page.style and "@import" not in page.style and "@font-face" not in page.style


def test_numbers_in_the_page(report):
    html = report.read_text(encoding="utf-8")
    for n in ("17,295", "15,045", "2,250", "6,000", "1,900", "1,500"):
        assert n in html
    assert "Microsoft Graph token from client-app-2: fix the client" in html


def test_hostile_values_stay_text(tmp_path):
    recs = [record(START, '<script>alert(1)</script>', "reject", aud=['"><img src=x onerror=alert(2)>'],
                   client="</td><script>x</script>", reasons=["aud_mismatch"],
                   hints=[{"code": "<b>", "text": "<style>body{display:none}</style>"}])]
    out = tmp_path / "evil.html"
    run("--html", out, write_log(tmp_path / "evil.log", recs), check=0)
    page = Page()
    page.feed(out.read_text())
    assert "script" not in page.tags and "img" not in page.tags
    assert page.tags.count("style") == 1
    assert "<script>alert(1)</script>" in page.h2
    text = "".join(page.text)
    assert '"><img src=x onerror=alert(2)>' in text and "</td><script>x</script>" in text
    assert "hint: <b>" in text and "<style>body{display:none}</style>" in text


def test_html_to_standard_output_and_with_text(scenario, tmp_path):
    p = run("--html", "-", scenario["path"], check=0)
    assert p.stdout.startswith(b"<!DOCTYPE html>")
    out = tmp_path / "r.html"
    p = run("--html", out, "--text", scenario["path"], check=0)
    assert p.stdout.startswith(b"aud-audit report\n") and out.read_bytes().startswith(b"<!DOCTYPE html>")


# ---- the browser ----

def chromium(*args, timeout=120):
    if not os.path.exists(CHROMIUM):
        pytest.fail("chromium is not installed (Debian package 'chromium'; scripts/deps installs it)")
    profile = tempfile.mkdtemp(prefix="aud-audit-chromium-")
    try:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0", *args]
        p = subprocess.run(cmd, capture_output=True, timeout=timeout)
        return p
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def console_messages(stderr: bytes):
    """What the page said on its console: Chromium logs each message as a
    CONSOLE line; uncaught exceptions among them."""
    return [line for line in stderr.decode(errors="replace").splitlines()
            if ":CONSOLE" in line or "Uncaught" in line]


def png_pixels(data: bytes):
    """(width, height, set of RGB colours) of an 8-bit RGB or RGBA PNG,
    decoded with zlib alone."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + length
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    prev = bytearray(stride)
    colours = set()
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif f == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        else:
            assert f == 0, f
        colours.update(zip(line[0::bpp], line[1::bpp], line[2::bpp]))
        prev = line
    return width, height, colours


def test_console_detection_works(tmp_path):
    """The check below must be able to fail: a page with an error is seen."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><title>t</title><p>x</p><script>console.error('boom'); nosuch();</script>")
    p = chromium("--dump-dom", bad.as_uri())
    msgs = console_messages(p.stderr)
    assert any("boom" in m for m in msgs) and any("Uncaught" in m for m in msgs), p.stderr[-2000:]


def test_rendered_in_chromium(report, tmp_path):
    shot = tmp_path / "report.png"
    p = chromium(f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri())
    assert p.returncode == 0, p.stderr[-3000:]
    assert console_messages(p.stderr) == []
    width, height, colours = png_pixels(shot.read_bytes())
    assert (width, height) == (1280, 2000)
    # Not blank: text, charts and table rules make many colours, among them
    # the charts' decision colours.
    assert len(colours) > 50
    assert ACCEPT in colours and REJECT in colours and AUDIT_REJECT in colours


def test_dom_has_title_and_apis(report):
    p = chromium("--dump-dom", report.as_uri())
    assert p.returncode == 0, p.stderr[-3000:]
    assert console_messages(p.stderr) == []
    dom = p.stdout.decode()
    assert re.search(r"<title>aud-audit report</title>", dom)
    for name in API_NAMES:
        assert f"<h2>{name}</h2>" in dom
    assert dom.count("<svg") >= 6


def test_prints_one_api_per_page(report, tmp_path):
    pdf = tmp_path / "report.pdf"
    p = chromium("--no-pdf-header-footer", f"--print-to-pdf={pdf}", report.as_uri())
    assert p.returncode == 0, p.stderr[-3000:]
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    # Each API starts a new page.
    assert pages >= 3


def test_ok_is_not_a_failure_reason(tmp_path):
    # Regression: records that list "ok" among their reasons (the code for
    # "no reason", as AUD_REASON says for an accepted request) made the HTML
    # show ok as the largest red bar under "Reasons and hints". This pins
    # that ok is never counted as a reason, in HTML, text and JSON alike,
    # while the real reasons beside it still are.
    recs = [record(START, "Users API", "accept", aud=["api://users"], matched="api://users", client="good",
                   reasons=["ok"])] * 30
    recs += [record(START, "Users API", "reject", aud=["api://other"], client="bad",
                    reasons=["aud_mismatch", "ok"])] * 4
    recs += [record(START, "Quiet API", "accept", aud=["api://q"], matched="api://q", client="c",
                    reasons=["ok"])] * 5
    log = write_log(tmp_path / "ok.log", recs)
    out = tmp_path / "ok.html"
    run("--html", out, log, check=0)
    html = out.read_text(encoding="utf-8")
    quiet, users = html.split('<section class="api"')[1:3]
    reasons = users.split("<h3>Reasons and hints</h3>")[1].split("<h3>")[0]
    assert re.findall(r'<td class="v">([^<]*)</td>', reasons) == ["aud_mismatch"]
    assert '<td class="v">aud_mismatch</td><td class="n">4</td>' in reasons
    assert "No request was rejected." in quiet
    # The audience table's reasons column too.
    assert ">ok " not in html and ", ok" not in html

    text = run(log, check=0).stdout.decode()
    assert re.search(r"^  aud_mismatch +4$", text, re.M)
    assert not re.search(r"^  ok ", text, re.M)

    doc = run_json(log)
    by_api = {a["api"]: a for a in doc["apis"]}
    assert by_api["Users API"]["reasons"] == [{"reason": "aud_mismatch", "count": 4}]
    assert by_api["Quiet API"]["reasons"] == []
    assert by_api["Users API"]["accept"] == 30 and by_api["Users API"]["reject"] == 4
    assert all(au["reasons"] in ([], [{"reason": "aud_mismatch", "count": 4}])
               for au in by_api["Users API"]["audiences"])
