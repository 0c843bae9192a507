"""Filters: --api, --decision, --since/--until (RFC 3339 and relative), and
strict refusal of bad arguments."""
from datetime import datetime, timezone

import pytest

from conftest import SCENARIO_TOTAL, reference, run, run_json
from test_json import check_against_reference

DAY2 = datetime(2026, 11, 24, tzinfo=timezone.utc)
DAY3 = datetime(2026, 11, 25, tzinfo=timezone.utc)


def test_api_filter(scenario):
    doc = run_json("--api", "Users API", scenario["path"])
    assert [a["api"] for a in doc["apis"]] == ["Users API"]
    assert doc["totals"]["requests"] == 17295
    assert doc["input"]["records"] == SCENARIO_TOTAL
    assert doc["input"]["filtered"] == SCENARIO_TOTAL - 17295
    assert doc["filters"]["api"] == ["Users API"]
    check_against_reference(doc, reference(scenario["records"], apis={"Users API"}))


def test_api_filter_repeated(scenario):
    doc = run_json("--api", "Users API", "--api", "Invoices API", scenario["path"])
    assert [a["api"] for a in doc["apis"]] == ["Invoices API", "Users API"]
    assert doc["totals"]["requests"] == 17295 + 6000
    check_against_reference(doc, reference(scenario["records"], apis={"Users API", "Invoices API"}))


def test_api_filter_matching_nothing(scenario):
    doc = run_json("--api", "users api", scenario["path"])
    assert doc["apis"] == [] and doc["input"]["filtered"] == SCENARIO_TOTAL


def test_decision_filter(scenario):
    doc = run_json("--decision", "reject", scenario["path"])
    assert doc["totals"] == {"requests": 2255, "accept": 0, "reject": 2255, "audit_reject": 0, "preflight": 0}
    check_against_reference(doc, reference(scenario["records"], decisions={"reject"}))
    text = run("--decision", "reject", scenario["path"], check=0).stdout.decode()
    assert "filters     decision reject" in text.splitlines()


def test_decision_list_and_repetition_agree(scenario):
    a = run_json("--decision", "accept,audit_reject", scenario["path"])
    b = run_json("--decision", "audit_reject", "--decision", "accept", scenario["path"])
    assert a == b
    assert a["totals"] == {"requests": 21045, "accept": 20045, "reject": 0, "audit_reject": 1000, "preflight": 0}
    assert a["filters"]["decision"] == ["accept", "audit_reject"]


def test_time_window(scenario):
    doc = run_json("--since", "2026-11-24T00:00:00Z", "--until", "2026-11-25T00:00:00Z", scenario["path"])
    # One record every 10 s: a day holds 8,640.
    assert doc["totals"]["requests"] == 8640
    assert doc["filters"]["since"] == "2026-11-24T00:00:00.000Z"
    assert doc["filters"]["until"] == "2026-11-25T00:00:00.000Z"
    check_against_reference(doc, reference(scenario["records"], since=DAY2, until=DAY3))


def test_since_is_inclusive_until_exclusive(scenario):
    doc = run_json("--since", "2026-11-24T00:00:00Z", "--until", "2026-11-24T00:00:10Z", scenario["path"])
    assert doc["totals"]["requests"] == 1
    doc = run_json("--since", "2026-11-24T00:00:00.001Z", "--until", "2026-11-24T00:00:10Z", scenario["path"])
    assert doc["totals"]["requests"] == 0


@pytest.mark.parametrize("since", ["2026-11-24", "2026-11-24T02:00:00+02:00", "2026-11-23T19:30:00-04:30",
                                   "2026-11-24t00:00:00z", "2026-11-24 00:00:00.000000Z"])
def test_rfc3339_forms(scenario, since):
    doc = run_json("--since", since, scenario["path"])
    assert doc["filters"]["since"] == "2026-11-24T00:00:00.000Z"
    assert doc["totals"]["requests"] == SCENARIO_TOTAL - 8640


@pytest.mark.parametrize("span", ["24h", "1440m", "86400s", "1d"])
def test_relative_times(scenario, span):
    doc = run_json("--now", "2026-11-25T00:00:00Z", "--since", span, scenario["path"], now=False)
    assert doc["filters"]["since"] == "2026-11-24T00:00:00.000Z"
    assert doc["totals"]["requests"] == SCENARIO_TOTAL - 8640
    check_against_reference(doc, reference(scenario["records"], since=DAY2))


def test_relative_until_and_weeks(scenario):
    doc = run_json("--now", "2026-12-02T00:00:00Z", "--since", "2w", "--until", "1w", scenario["path"], now=False)
    assert doc["filters"] == {"api": [], "since": "2026-11-18T00:00:00.000Z", "until": "2026-11-25T00:00:00.000Z",
                              "decision": []}
    assert doc["totals"]["requests"] == 2 * 8640


def test_filters_combine(scenario):
    doc = run_json("--api", "Users API", "--decision", "reject", "--since", "2026-11-24", scenario["path"])
    ref = reference(scenario["records"], apis={"Users API"}, decisions={"reject"}, since=DAY2)
    check_against_reference(doc, ref)
    assert doc["totals"]["requests"] == sum(ref["Users API"]["n"].values()) > 0


@pytest.mark.parametrize("args,message", [
    (["--since", "yesterday"], "--since needs an RFC 3339 time"),
    (["--since", "2026-02-30"], "--since needs"),
    (["--since", "2026-11-24T24:00:00Z"], "--since needs"),
    (["--since", "2026-11-24T10:00:00"], "--since needs"),
    (["--until", "-5h"], "--until needs"),
    (["--until", "5 h"], "--until needs"),
    (["--until", "5y"], "--until needs"),
    (["--until", "99999999999d"], "--until needs"),
    (["--since", "2026-11-25", "--until", "2026-11-24"], "must be before --until"),
    (["--since", "1h", "--since", "2h"], "only once"),
    (["--now", "24h"], "--now needs an RFC 3339 time"),
    (["--decision", "allow"], "--decision takes accept, reject or audit_reject"),
    (["--decision", "accept,"], "--decision takes"),
    (["--api", ""], "--api needs an API name"),
    (["--threads", "0"], "--threads needs a whole number from 1 to 64"),
    (["--threads", "2x"], "--threads needs"),
    (["--threads", "+2"], "--threads needs"),
    (["--threads", " 2"], "--threads needs"),
    (["--top", "-1"], "--top needs"),
    (["--top", "0x10"], "--top needs"),
    (["--chunk-size", "0"], "--chunk-size needs"),
    (["--chunk-size", "65M"], "--chunk-size needs"),
    (["--chunk-size", "4G"], "--chunk-size needs"),
    (["--parser", "yajl"], "--parser takes fast or jansson"),
    (["--json", "--suggest"], "cannot be combined"),
    (["--text", "--json"], "cannot be combined"),
    (["--html", ""], "--html needs a file name"),
    (["--html", "-", "--json"], "--html - writes to standard output"),
    (["--html", "x.html", "--html", "y.html"], "--html may be given only once"),
    (["--bogus"], "unknown option '--bogus'"),
    (["-x"], "unknown option '-x'"),
    (["--api"], "needs a value"),
])
def test_bad_arguments_fail_closed(scenario, args, message):
    p = run(*args, scenario["path"], now=False) if args[-1:] != ["--api"] else run(*args, now=False)
    assert p.returncode == 2, p.stderr
    assert p.stdout == b""
    err = p.stderr.decode()
    assert message in err, err
    assert "--help" in err


def test_help():
    p = run("--help", now=False, check=0)
    out = p.stdout.decode()
    for opt in ("--api", "--since", "--until", "--decision", "--suggest", "--json", "--html", "--top", "--now",
                "--threads", "--chunk-size", "--parser"):
        assert opt in out
