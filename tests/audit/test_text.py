"""The default text report, every count checked on the known scenario."""
import re

from conftest import SCENARIO_TOTAL, record, run, write_log, START


def section(text: str, title: str):
    """The lines of one API's section."""
    lines = text.splitlines()
    start = lines.index(f"== {title} ==")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("== ")), len(lines))
    return lines[start:end]


def has_line(lines, pattern: str):
    rx = re.compile(pattern)
    assert any(rx.fullmatch(line) for line in lines), f"no line matches {pattern!r} in:\n" + "\n".join(lines)


def row(name: str, *numbers: str, marker: str = "") -> str:
    """A regex for a name then right-aligned numbers."""
    return re.escape(marker) + r"\s*" + re.escape(name) + "".join(r"\s+" + re.escape(n) for n in numbers)


def test_header_counts(scenario):
    out = run(scenario["path"], check=0).stdout.decode()
    lines = out.splitlines()
    assert lines[0] == "aud-audit report"
    assert SCENARIO_TOTAL == 23300
    has_line(lines, r"input\s+1 file, 23,300 lines, 23,300 records")
    has_line(lines, r"skipped\s+0 malformed, 0 blank, 0 filtered out")
    has_line(lines, r"requests\s+23,300 in 3 APIs")


def test_api_order_named_first_unnamed_last(scenario):
    out = run(scenario["path"], check=0).stdout.decode()
    titles = [line for line in out.splitlines() if line.startswith("== ")]
    assert titles == ["== Invoices API ==", "== Users API ==", "== (no api name) =="]


def test_users_api_section(scenario):
    s = section(run(scenario["path"], check=0).stdout.decode(), "Users API")
    has_line(s, r"period\s+2026-11-23T\d\d:\d\d:\d0\.000Z \.\. 2026-11-2\dT\d\d:\d\d:\d0\.000Z")
    has_line(s, r"mode\s+enforce")
    has_line(s, r"requests\s+17,295")
    has_line(s, r"accept\s+15,045\s+87\.0%")
    has_line(s, r"reject\s+2,250\s+13\.0%")
    has_line(s, r"audit_reject\s+0\s+0\.0%")
    # Audiences, most requests first, the allowed ones starred.
    i = next(k for k, line in enumerate(s) if line.startswith("audiences "))
    names = []
    for line in s[i + 1:]:
        m = re.match(r"  ([* ]) (\S.*?)\s{2,}[\d,]+(\s+[\d,]+){3}$", line)
        if not m:
            break
        names.append(m.group(1) + m.group(2))
    assert names == ["*api://users", " https://graph.microsoft.com", " (no audience)", "*api://users-v2"]
    has_line(s, row("api://users", "15,250", "15,000", "250", "0", marker="  * "))
    has_line(s, row("https://graph.microsoft.com", "1,900", "0", "1,900", "0", marker="    "))
    has_line(s, row("(no audience)", "100", "0", "100", "0", marker="    "))
    has_line(s, row("api://users-v2", "45", "45", "0", "0", marker="  * "))
    # Reasons and hints with counts, hint texts under their code.
    has_line(s, row("aud_mismatch", "1,900"))
    has_line(s, row("expired", "250"))
    has_line(s, row("no_token", "100"))
    has_line(s, row("graph_token", "1,900"))
    has_line(s, r"\s+1,500  Microsoft Graph token from client-app-2: fix the client")
    has_line(s, r"\s+400  Microsoft Graph token from client-app-3: fix the client")
    # Clients behind each rejected audience, the most rejected audience and
    # client first.
    i = s.index("clients behind rejected audiences (reject + audit_reject requests)")
    block = [line.rstrip() for line in s[i + 1:] if line.strip()]
    assert [re.sub(r"\s{2,}", " | ", line.strip()) for line in block] == [
        "https://graph.microsoft.com | 1,900",
        "client-app-2 | 1,500",
        "client-app-3 | 400",
        "api://users | 250",
        "app-web | 250",
        "(no audience) | 100",
        "(no client) | 100",
    ]


def test_invoices_api_section(scenario):
    s = section(run(scenario["path"], check=0).stdout.decode(), "Invoices API")
    has_line(s, r"mode\s+audit")
    has_line(s, r"requests\s+6,000")
    has_line(s, r"accept\s+5,000\s+83\.3%")
    has_line(s, r"reject\s+0\s+0\.0%")
    has_line(s, r"audit_reject\s+1,000\s+16\.7%")
    has_line(s, row("api://invoices", "5,000", "5,000", "0", "0", marker="  * "))
    has_line(s, row("api://users", "700", "0", "0", "700", marker="    "))
    has_line(s, row("api://old-invoices, api://x", "300", "0", "0", "300", marker="    "))
    has_line(s, row("aud_mismatch", "1,000"))
    has_line(s, row("expired", "300"))
    has_line(s, row("other_api", "700"))
    has_line(s, r"\s+700  token for api://users sent to Invoices API")
    has_line(s, row("old_audience", "300"))
    has_line(s, r"\s+300  \(no text\)")
    has_line(s, row("legacy", "300"))


def test_unnamed_api_section(scenario):
    s = section(run(scenario["path"], check=0).stdout.decode(), "(no api name)")
    has_line(s, r"requests\s+5")
    has_line(s, r"reject\s+5\s+100\.0%")
    has_line(s, row("(no audience)", "5", "0", "5", "0", marker="    "))


def test_fits_an_80_column_terminal(scenario):
    out = run(scenario["path"], check=0).stdout.decode()
    long_lines = [line for line in out.splitlines() if len(line) >= 80]
    assert long_lines == []


def test_long_names_get_their_own_line_and_nothing_is_cut(tmp_path):
    aud = "api://" + "a" * 70
    recs = [record(START, "Long API", "reject", aud=[aud], client="c" * 60, reasons=["aud_mismatch"])] * 3
    out = run(write_log(tmp_path / "l.log", recs), check=0).stdout.decode()
    lines = out.splitlines()
    i = lines.index("    " + aud)
    assert re.fullmatch(r"\s+3\s+0\s+3\s+0", lines[i + 1])
    assert any(line.strip() == "c" * 60 for line in lines)
    assert all(len(line) < 80 for line in lines if aud not in line and "c" * 60 not in line)


def test_thousands_separators_and_top_clients(tmp_path):
    recs = []
    for k in range(15):
        recs += [record(START, "A", "reject", aud=["x"], client=f"c{k:02d}", reasons=["aud_mismatch"])] * (k + 1)
    recs += [record(START, "A", "accept", aud=["y"], matched="y", client="ok")] * 1_234_5
    path = write_log(tmp_path / "t.log", recs)
    s = run(path, "--top", "3", check=0).stdout.decode().splitlines()
    has_line(s, r"requests\s+12,465")
    has_line(s, r"accept\s+12,345\s+99\.0%")
    has_line(s, row("c14", "15"))
    has_line(s, row("c13", "14"))
    has_line(s, row("c12", "13"))
    assert not any(line.strip().startswith("c11") for line in s)
    # 120 rejected requests in all; the 3 shown hold 42, so 78 are in the
    # remaining 12 clients.
    has_line(s, row("... 12 more clients", "78"))


def test_hostile_values_cannot_drive_the_terminal(tmp_path):
    evil = "app\x1b[31mred\u202eevil\x07"
    recs = [record(START, "API\x1b]0;title\x07", "reject", aud=["a\x1b[2J"], client=evil, reasons=["aud_mismatch"])]
    out = run(write_log(tmp_path / "e.log", recs), check=0).stdout
    assert b"\x1b" not in out and b"\x07" not in out and "\u202e".encode() not in out
    text = out.decode()
    assert "== API\\x1b]0;title\\x07 ==" in text
    assert "app\\x1b[31mred\\u202eevil\\x07" in text
