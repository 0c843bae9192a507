"""--suggest: the AudAllow line per API and what not to allow, exactly."""
import shlex

from conftest import START, record, run, write_log


def api_block(text, name):
    """The lines from an API's header to the next blank line."""
    lines = text.splitlines()
    start = lines.index(next(line for line in lines if line.startswith(f'# API "{name}":')))
    end = next((i for i in range(start, len(lines)) if lines[i] == ""), len(lines))
    return lines[start:end]


def test_exact_suggestions(scenario):
    text = run("--suggest", scenario["path"], check=0).stdout.decode()
    assert "# input       1 file, 23,300 lines, 23,300 records" in text.splitlines()
    assert api_block(text, "Users API") == [
        '# API "Users API": 17,295 requests, 15,045 accepted (87.0%)',
        "AudAllow api://users api://users-v2",
        "#   api://users: 15,000 accepted",
        "#   api://users-v2: 45 accepted",
        "# Do NOT allow:",
        "#   https://graph.microsoft.com: 1,900 requests (reject 1,900)",
        "#     why: Microsoft Graph token from client-app-2: fix the client (1,500)",
        "#     why: Microsoft Graph token from client-app-3: fix the client (400)",
        "#     reasons: aud_mismatch 1,900",
        "#     clients: client-app-2 1,500, client-app-3 400",
        "# Also rejected, with no audience at all: 100 requests (no_token 100)",
    ]
    assert api_block(text, "Invoices API") == [
        '# API "Invoices API": 6,000 requests, 5,000 accepted (83.3%)',
        "AudAllow api://invoices",
        "#   api://invoices: 5,000 accepted",
        "# Do NOT allow:",
        "#   api://users: 700 requests (audit_reject 700)",
        "#     why: token for api://users sent to Invoices API (700)",
        "#     reasons: aud_mismatch 700",
        "#     clients: app-web 700",
        "#   api://old-invoices, api://x: 300 requests (audit_reject 300)",
        "#     why: old_audience (300)",
        "#     reasons: aud_mismatch 300, expired 300",
        "#     clients: legacy 300",
    ]
    assert api_block(text, "(no api name)") == [
        '# API "(no api name)": 5 requests, 0 accepted (0.0%)',
        "# No request was accepted: the log shows nothing that AudAllow should allow.",
        "# Also rejected, with no audience at all: 5 requests (no_token 5)",
    ]


def test_every_line_is_a_comment_or_an_audallow(scenario):
    text = run("--suggest", scenario["path"], check=0).stdout.decode()
    lines = [line for line in text.splitlines() if line]
    assert all(line.startswith("#") or line.startswith("AudAllow ") for line in lines)
    assert sum(line.startswith("AudAllow ") for line in lines) == 2


def test_an_audience_matched_only_by_rejected_requests_is_neither_allowed_nor_denied(tmp_path):
    # Expired tokens for the right audience: the audience is right (it
    # matched), the tokens are not; AudAllow has nothing to learn from them.
    recs = [record(START, "A", "accept", aud=["api://a"], matched="api://a", client="c1")] * 2
    recs += [record(START, "A", "reject", aud=["api://a"], matched="api://a", client="c2", reasons=["expired"])] * 3
    text = run("--suggest", write_log(tmp_path / "a.log", recs), check=0).stdout.decode()
    assert api_block(text, "A") == [
        '# API "A": 5 requests, 2 accepted (40.0%)',
        "AudAllow api://a",
        "#   api://a: 2 accepted",
    ]


def test_values_are_quoted_as_apache_reads_them(tmp_path):
    odd = ['api://with space', 'say "hi"', "back\\slash", "#hash"]
    recs = [record(START, "Q", "accept", aud=[a], matched=a, client="c") for a in odd]
    recs += [record(START, "Q", "accept", aud=["plain"], matched="plain", client="c")] * 2
    text = run("--suggest", write_log(tmp_path / "q.log", recs), check=0).stdout.decode()
    line = next(line for line in text.splitlines() if line.startswith("AudAllow "))
    assert line == 'AudAllow plain "#hash" "api://with space" "back\\slash" "say \\"hi\\""'
    # Apache's argument parser unquotes "..." and \" like a POSIX shell does
    # for these values (no $, no backquote), so shlex reads them back.
    assert shlex.split(line)[1:] == ["plain", "#hash", "api://with space", "back\\slash", 'say "hi"']


def test_an_audience_with_control_characters_is_never_offered_for_pasting(tmp_path):
    recs = [record(START, "C", "accept", aud=["api://x\nAudAllow evil"], matched="api://x\nAudAllow evil",
                   client="c")]
    out = run("--suggest", write_log(tmp_path / "c.log", recs), check=0).stdout.decode()
    assert not any(line.startswith("AudAllow") for line in out.splitlines())
    assert "# (an allowed audience holds control characters: no AudAllow line can carry it)" in out
    assert "#   api://x\\x0aAudAllow evil: 1 accepted" in out


def test_suggest_with_no_records(tmp_path):
    p = tmp_path / "empty.log"
    p.write_bytes(b"")
    out = run("--suggest", p, check=0).stdout.decode()
    assert "# no audit records: nothing to suggest" in out.splitlines()
    assert not any(line.startswith("AudAllow") for line in out.splitlines())
