"""--json: the documented schema, every count against the reference
aggregator, and the same answer however the input is split and parsed."""
import pytest

from conftest import DECISIONS, SCENARIO_TOTAL, reference, rfc3339, run_json, aud_key

TOP_KEYS = {"schema", "generated", "input", "filters", "totals", "apis"}
API_KEYS = {"api", "modes", "first", "last", "requests", "accept", "reject", "audit_reject", "preflight",
            "audiences", "reasons", "hints", "requirements", "suggest", "timeline"}
AUD_KEYS = {"aud", "allowed", "matched", "requests", "accept", "reject", "audit_reject", "preflight", "reasons",
            "hints", "clients"}
CLIENT_KEYS = {"client", "requests", "accept", "reject", "audit_reject", "preflight", "reasons", "hints"}


def counts(n):
    return {"requests": sum(n.values()), **n}


def hints_as_dict(hints):
    return {h["code"]: {"count": h["count"], "texts": {t["text"]: t["count"] for t in h["texts"]}} for h in hints}


def ref_hints(h):
    return {code: {"count": e["count"], "texts": dict(e["texts"])} for code, e in h.items()}


def check_against_reference(doc, ref):
    """Every number of every API in doc equals the reference's."""
    assert {a["api"] for a in doc["apis"]} == set(ref)
    for a in doc["apis"]:
        r = ref[a["api"]]
        assert set(a) == API_KEYS
        assert {k: a[k] for k in ("requests",) + DECISIONS} == counts(r["n"])
        assert a["first"] == rfc3339(r["first"]) and a["last"] == rfc3339(r["last"])
        assert set(a["modes"]) == r["modes"]
        assert {x["reason"]: x["count"] for x in a["reasons"]} == dict(r["reasons"])
        assert hints_as_dict(a["hints"]) == ref_hints(r["hints"])
        assert len(a["audiences"]) == len(r["auds"])
        requests = [au["requests"] for au in a["audiences"]]
        assert requests == sorted(requests, reverse=True)
        for au in a["audiences"]:
            assert set(au) == AUD_KEYS
            ra = r["auds"][aud_key(au["aud"])]
            assert {k: au[k] for k in ("requests",) + DECISIONS} == counts(ra["n"])
            assert au["allowed"] == ra["allowed"]
            assert {m["audience"]: m["requests"] for m in au["matched"]} == dict(ra["matched"])
            assert {x["reason"]: x["count"] for x in au["reasons"]} == dict(ra["reasons"])
            assert hints_as_dict(au["hints"]) == ref_hints(ra["hints"])
            assert {c["client"] for c in au["clients"]} == set(ra["clients"])
            for c in au["clients"]:
                assert set(c) == CLIENT_KEYS
                rc = ra["clients"][c["client"]]
                assert {k: c[k] for k in ("requests",) + DECISIONS} == counts(rc["n"])
                assert {x["reason"]: x["count"] for x in c["reasons"]} == dict(rc["reasons"])
                assert hints_as_dict(c["hints"]) == ref_hints(rc["hints"])
        # Suggestions: what accepted requests matched; the audiences never
        # matched that were rejected.
        assert {x["audience"]: x["accepted"] for x in a["suggest"]["allow"]} == dict(r["allow"])
        deny = {aud_key(d["aud"]): d for d in a["suggest"]["deny"]}
        want = {k: v for k, v in r["auds"].items()
                if k is not None and not v["allowed"] and v["n"]["reject"] + v["n"]["audit_reject"]}
        assert set(deny) == set(want)
        for k, d in deny.items():
            w = want[k]
            assert d["requests"] == w["n"]["reject"] + w["n"]["audit_reject"]
            assert d["reject"] == w["n"]["reject"] and d["audit_reject"] == w["n"]["audit_reject"]
            assert {c["client"]: c["requests"] for c in d["clients"]} == {
                name: c["n"]["reject"] + c["n"]["audit_reject"] for name, c in w["clients"].items()
                if c["n"]["reject"] + c["n"]["audit_reject"]}
        # The timeline: hourly buckets here (the scenario spans under 7 days).
        assert a["timeline"]["bucket_seconds"] == 3600
        assert {b["start"]: {d: b[d] for d in DECISIONS} for b in a["timeline"]["buckets"]} == {
            rfc3339(h): v for h, v in r["buckets"].items()}


def test_schema_and_totals(scenario):
    doc = run_json(scenario["path"])
    assert set(doc) == TOP_KEYS
    assert doc["schema"] == "aud-audit/2"
    assert doc["generated"] == "2026-11-26T00:00:00.000Z"
    assert doc["totals"] == {"requests": 23300, "accept": 20045, "reject": 2255, "audit_reject": 1000, "preflight": 0}
    inp = doc["input"]
    assert inp["lines"] == inp["records"] == SCENARIO_TOTAL
    assert inp["malformed"] == inp["blank"] == inp["filtered"] == 0
    assert inp["malformed_examples"] == []
    assert inp["files"] == [{"name": str(scenario["path"]), "lines": 23300, "records": 23300, "malformed": 0,
                             "blank": 0, "filtered": 0, "read_error": False}]
    assert doc["filters"] == {"api": [], "since": None, "until": None, "decision": []}
    assert [a["api"] for a in doc["apis"]] == ["Invoices API", "Users API", None]


def test_every_count_matches_the_reference(scenario):
    check_against_reference(run_json(scenario["path"]), reference(scenario["records"]))


def test_hand_written_headline_numbers(scenario):
    """The same facts as the reference, written out: guards against the
    reference and the tool sharing a mistake."""
    apis = {a["api"]: a for a in run_json(scenario["path"])["apis"]}
    users = apis["Users API"]
    assert (users["requests"], users["accept"], users["reject"], users["audit_reject"]) == (17295, 15045, 2250, 0)
    assert [(tuple(x["aud"]) if x["aud"] else None, x["requests"], x["allowed"]) for x in users["audiences"]] == [
        (("api://users",), 15250, True), (("https://graph.microsoft.com",), 1900, False), (None, 100, False),
        (("api://users-v2",), 45, True)]
    assert users["suggest"]["allow"] == [{"audience": "api://users", "accepted": 15000},
                                         {"audience": "api://users-v2", "accepted": 45}]
    graph = users["audiences"][1]
    assert [(c["client"], c["reject"]) for c in graph["clients"]] == [("client-app-2", 1500), ("client-app-3", 400)]
    assert graph["hints"] == [{"code": "graph_token", "count": 1900, "texts": [
        {"text": "Microsoft Graph token from client-app-2: fix the client", "count": 1500},
        {"text": "Microsoft Graph token from client-app-3: fix the client", "count": 400}]}]
    inv = apis["Invoices API"]
    assert inv["modes"] == ["audit"]
    assert (inv["accept"], inv["audit_reject"]) == (5000, 1000)
    multi = [x for x in inv["audiences"] if x["aud"] == ["api://old-invoices", "api://x"]][0]
    assert multi["reasons"] == [{"reason": "aud_mismatch", "count": 300}, {"reason": "expired", "count": 300}]
    assert multi["hints"] == [{"code": "old_audience", "count": 300, "texts": [{"text": None, "count": 300}]}]
    assert apis[None]["reject"] == 5


def strip_volatile(doc):
    """What differs legitimately between runs over the same records: the
    input's file list."""
    doc = dict(doc)
    doc["input"] = {k: v for k, v in doc["input"].items() if k != "files"}
    return doc


@pytest.mark.parametrize("args", [
    ["--threads", "1"],
    ["--threads", "2"],
    ["--threads", "4", "--chunk-size", "1"],
    ["--threads", "3", "--chunk-size", "777"],
    ["--threads", "2", "--chunk-size", "64K"],
    ["--parser", "jansson"],
    ["--parser", "jansson", "--threads", "2", "--chunk-size", "5000"],
])
def test_same_answer_for_any_threads_chunks_and_parser(scenario, args):
    base = run_json("--threads", "1", scenario["path"])
    assert run_json(*args, scenario["path"]) == base


def test_empty_input_is_a_valid_document(tmp_path):
    p = tmp_path / "empty.log"
    p.write_bytes(b"")
    doc = run_json(p)
    assert doc["apis"] == []
    assert doc["totals"] == {"requests": 0, "accept": 0, "reject": 0, "audit_reject": 0, "preflight": 0}
    assert doc["input"]["lines"] == 0


def test_timeline_uses_days_past_a_week_and_wider_buckets_for_years(tmp_path):
    from datetime import timedelta
    from conftest import START, record, write_log
    # 30 days, 3 records a day at 01:00, 13:00 and 23:00.
    recs = [record(START + timedelta(days=d, hours=h), "T", "accept") for d in range(30) for h in (1, 13, 23)]
    doc = run_json(write_log(tmp_path / "month.log", recs))
    tl = doc["apis"][0]["timeline"]
    assert tl["bucket_seconds"] == 86400
    assert len(tl["buckets"]) == 30
    assert tl["buckets"][0] == {"start": "2026-11-23T00:00:00.000Z", "accept": 3, "reject": 0, "audit_reject": 0,
                              "preflight": 0}
    assert tl["buckets"][-1]["start"] == "2026-12-22T00:00:00.000Z"
    # A stray record three years back must not make a chart of 26,000 bars.
    recs.append(record(START - timedelta(days=3 * 365), "T", "reject"))
    doc = run_json(write_log(tmp_path / "stray.log", recs))
    tl = doc["apis"][0]["timeline"]
    assert tl["bucket_seconds"] == 7 * 86400
    assert sum(b["accept"] for b in tl["buckets"]) == 90
    assert sum(b["reject"] for b in tl["buckets"]) == 1
    # Exactly seven days of hours stay hourly.
    recs = [record(START + timedelta(hours=h), "T", "accept") for h in range(168)]
    tl = run_json(write_log(tmp_path / "week.log", recs))["apis"][0]["timeline"]
    assert tl["bucket_seconds"] == 3600 and len(tl["buckets"]) == 168
