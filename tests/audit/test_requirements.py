"""Authorization refusals and CORS preflights in aud-audit.

Pins: records where a valid token was refused by a Require line carry
"required", "scopes" and "roles"; aud-audit counts each distinct requirement
per API (reject and audit_reject apart) with the scopes and roles those
tokens carried, most frequent first, in text, --json (schema aud-audit/2)
and HTML; "preflight" is a decision of its own; both parsers read the new
fields the same way whatever the member order; old records without the
fields mix in and add nothing to the requirement list; and token-chosen
scope and role strings never reach a terminal or a page unescaped."""
import json
import random
import re
from collections import Counter, defaultdict

import pytest

from conftest import START, STEP, dumps, record, run, run_json, scenario_records, write_log

WRITE = {"scope": ["orders.write", "orders.admin"]}
KC_ADMIN = {"claim": "/realm_access/roles", "values": ["orders-admin"]}
ROLE = {"role": ["Orders.Approve"]}


def refused(time, required, scopes=(), roles=(), decision="reject", api="Orders API", client="web",
            reasons=("insufficient_scope",), mode="enforce"):
    r = record(time, api, decision, aud=["api://orders"], matched="api://orders", client=client,
               reasons=reasons, mode=mode)
    r["required"] = required
    r["scopes"] = list(scopes)
    r["roles"] = list(roles)
    return r


def preflight(time, api="Orders API"):
    r = record(time, api, "preflight")
    r["status"] = 204
    return r


# (count, kwargs for refused()): the hand-checked numbers below follow from it.
MIX = [
    (7, dict(required=WRITE, scopes=["openid", "orders.read"])),
    (2, dict(required=WRITE, scopes=["Orders.Write"], decision="audit_reject", mode="audit", client="cli")),
    (3, dict(required=KC_ADMIN, scopes=["profile"], roles=["reader"], client="kc")),
    (1, dict(required=ROLE, roles=["Orders.Read"], reasons=("insufficient_scope", "token_type"))),
]


def mix_records():
    recs = []
    for n, kw in MIX:
        recs += [("refused", kw)] * n
    recs += [("accept", {})] * 5 + [("preflight", {})] * 4
    random.Random(3).shuffle(recs)
    out = []
    for i, (kind, kw) in enumerate(recs):
        t = START + i * STEP
        if kind == "refused":
            out.append(refused(t, **kw))
        elif kind == "accept":
            out.append(record(t, "Orders API", "accept", aud=["api://orders"], matched="api://orders", client="web"))
        else:
            out.append(preflight(t))
    return out


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """The mix above plus the old scenario (records without the new fields)."""
    d = tmp_path_factory.mktemp("reqs")
    recs = mix_records() + scenario_records()
    return {"records": recs, "path": write_log(d / "audit.log", recs)}


def api_of(doc, name):
    return next(a for a in doc["apis"] if a["api"] == name)


def test_json_counts_requirements_and_what_tokens_carried(mixed):
    doc = run_json(mixed["path"])
    assert doc["schema"] == "aud-audit/2"
    orders = api_of(doc, "Orders API")
    assert (orders["requests"], orders["accept"], orders["reject"], orders["audit_reject"], orders["preflight"]) == \
        (22, 5, 11, 2, 4)
    assert orders["requirements"] == [
        {"required": WRITE, "requests": 9, "reject": 7, "audit_reject": 2,
         "scopes": [{"scope": "openid", "count": 7}, {"scope": "orders.read", "count": 7},
                    {"scope": "Orders.Write", "count": 2}],
         "roles": []},
        {"required": KC_ADMIN, "requests": 3, "reject": 3, "audit_reject": 0,
         "scopes": [{"scope": "profile", "count": 3}], "roles": [{"role": "reader", "count": 3}]},
        {"required": ROLE, "requests": 1, "reject": 1, "audit_reject": 0,
         "scopes": [], "roles": [{"role": "Orders.Read", "count": 1}]},
    ]
    reasons = {r["reason"]: r["count"] for r in orders["reasons"]}
    assert reasons == {"insufficient_scope": 13, "token_type": 1}
    # The old scenario's APIs are unchanged and have no requirements.
    users = api_of(doc, "Users API")
    assert (users["requests"], users["accept"], users["reject"], users["audit_reject"], users["preflight"]) == \
        (17295, 15045, 2250, 0, 0)
    assert users["requirements"] == []
    assert api_of(doc, "Invoices API")["requirements"] == []
    assert doc["totals"]["preflight"] == 4
    assert doc["totals"]["requests"] == 23300 + 22
    # Preflights have no token: the "no audience" row holds them.
    noaud = next(a for a in orders["audiences"] if a["aud"] is None)
    assert (noaud["requests"], noaud["preflight"]) == (4, 4)
    assert sum(b["preflight"] for b in orders["timeline"]["buckets"]) == 4


def test_accepted_and_unrequired_records_add_no_requirement(tmp_path):
    # "required" on an accept, on a preflight, or with nothing usable in it,
    # is not an unmet requirement.
    recs = []
    acc = record(START, "A", "accept", aud=["x"], matched="x", client="c")
    acc["required"] = WRITE
    acc["scopes"] = ["s"]
    recs.append(acc)
    pf = preflight(START + STEP, api="A")
    pf["required"] = WRITE
    recs.append(pf)
    for req in ({}, {"other": ["x"]}, {"scope": "not a list"}, "scope", ["scope"], None, {"values": ["v"]}):
        recs.append(refused(START + 2 * STEP, req, scopes=["s"], api="A"))
    doc = run_json(write_log(tmp_path / "a.log", recs))
    a = api_of(doc, "A")
    assert a["requirements"] == []
    assert (a["accept"], a["preflight"], a["reject"]) == (1, 1, 7)


def test_decision_filter_takes_preflight(mixed):
    doc = run_json("--decision", "preflight", mixed["path"])
    assert doc["filters"]["decision"] == ["preflight"]
    assert doc["totals"] == {"requests": 4, "accept": 0, "reject": 0, "audit_reject": 0, "preflight": 4}
    assert [a["api"] for a in doc["apis"]] == ["Orders API"]
    doc = run_json("--decision", "preflight,audit_reject", mixed["path"])
    assert doc["filters"]["decision"] == ["audit_reject", "preflight"]
    assert doc["totals"]["requests"] == 4 + 2 + 1000
    # Filtering refusals away leaves no requirement behind.
    doc = run_json("--decision", "accept", mixed["path"])
    assert all(a["requirements"] == [] for a in doc["apis"])
    p = run("--decision", "preflights", mixed["path"], check=2)
    assert b"preflight" in p.stderr


def test_text_report_lists_unmet_requirements(mixed):
    out = run(mixed["path"], check=0).stdout.decode()
    section = out[out.index("== Orders API =="):]
    section = section[:section.index("\n== ")] if "\n== " in section else section
    assert re.search(r"^preflight +4 +18\.2%$", section, re.M)
    assert re.search(r"^audiences +requests +accept +reject +audit_rej +preflight$", section, re.M)
    expected = (
        "unmet requirements (accepted tokens refused)                   reject audit_rej\n"
        "  scope orders.write | orders.admin                                 7         2\n"
        "    scopes  openid 7, orders.read 7, Orders.Write 2\n"
        "    roles   (none)\n"
        "  claim /realm_access/roles = orders-admin                          3         0\n"
        "    scopes  profile 3\n"
        "    roles   reader 3\n"
        "  role Orders.Approve                                               1         0\n"
        "    scopes  (none)\n"
        "    roles   Orders.Read 1\n")
    assert expected in section
    # An API without preflights or requirements reads as before.
    users = out[out.index("== Users API =="):]
    users = users[:users.index("\n== ")]
    assert "preflight" not in users and "unmet requirements" not in users
    assert all(len(line) <= 80 for line in out.splitlines())


def test_top_limits_text_and_html_but_not_json(tmp_path):
    recs = []
    for i in range(30):
        # Scope k is carried by 30 - k tokens: a strict order to check.
        recs.append(refused(START + i * STEP, WRITE, scopes=[f"s{k:02d}" for k in range(i + 1) if k < 16]))
    path = write_log(tmp_path / "top.log", recs)
    out = run("--top", "3", path, check=0).stdout.decode()
    assert "    scopes  s00 30, s01 29, s02 28, ... 13 more\n" in out
    doc = run_json(path)
    scopes = doc["apis"][0]["requirements"][0]["scopes"]
    assert [(s["scope"], s["count"]) for s in scopes] == [(f"s{k:02d}", 30 - k) for k in range(16)]
    html = tmp_path / "top.html"
    run("--top", "3", "--html", str(html), path, check=0)
    page = html.read_text()
    assert "s02 (28)" in page and "s03 (27)" not in page and "&hellip; 13 more" in page


def test_a_scope_listed_twice_counts_once_and_at_most_16_are_read(tmp_path):
    many = [f"x{k}" for k in range(20)]
    recs = [refused(START, WRITE, scopes=["a", "a", "b"], roles=["r", "r"]),
            refused(START + STEP, WRITE, scopes=many)]
    docs = [run_json("--parser", p, write_log(tmp_path / "d.log", recs)) for p in ("fast", "jansson")]
    assert docs[0]["apis"] == docs[1]["apis"]
    req = docs[0]["apis"][0]["requirements"][0]
    counts = {s["scope"]: s["count"] for s in req["scopes"]}
    assert counts["a"] == 1 and counts["b"] == 1
    assert set(counts) == {"a", "b"} | {f"x{k}" for k in range(16)}
    assert req["roles"] == [{"role": "r", "count": 1}]


REQUIRED_LINES = [
    # Member order and duplicates: the last duplicate wins, claim before
    # scope before role before client, whatever the order in the line.
    '{"required":{"client":["c1"],"scope":["s1"]}}',
    '{"required":{"scope":["s1"],"client":["c1"]}}',
    '{"required":{"values":["v"],"scope":["s1"],"claim":"/a~1b"}}',
    '{"required":{"claim":"n","values":["v1"],"values":["v2",3,"v3"]}}',
    '{"required":{"role":["r"],"role":"x","client":["c"]}}',
    '{"required":{"scope":["a"]},"required":{"role":["b"]}}',
    '{"required":{"scope":["a"]},"required":7}',
    '{"required":{"claim":5,"values":["x"],"role":["r\\u00e9"]}}',
    '{"required":{"claim":"c"}}',
    '{"required":{"scope":[]}}',
    '{"required":{"scope":[{"x":["y"]},["z"],"ok",null]}}',
    '{"required":{"x":{"scope":["deep"]},"client":["\\ud83d\\ude00"]}}',
    '{"required":{"\\u0073cope":["escaped name"]}}',
    # scopes/roles of odd types.
    '{"required":{"scope":["s"]},"scopes":"openid","roles":{"a":1}}',
    '{"required":{"scope":["s"]},"scopes":["a",1,"b",null,["c"]],"roles":["r"],"roles":["r2"]}',
]


def test_both_parsers_agree_on_the_new_fields(tmp_path):
    lines = []
    for i, fragment in enumerate(REQUIRED_LINES):
        head = dumps(record(START + i * STEP, f"API {i}", "reject", aud=["x"], matched="x", client="c",
                            reasons=["insufficient_scope"]))
        # The fragment's members are spliced in as written (duplicates kept).
        lines.append(head[:-1] + "," + fragment[1:])
    path = tmp_path / "p.log"
    path.write_text("\n".join(lines) + "\n")
    fast, slow = (run_json("--parser", p, path) for p in ("fast", "jansson"))
    assert fast["input"]["malformed"] == 0 and fast["input"]["records"] == len(REQUIRED_LINES)
    assert fast["apis"] == slow["apis"]
    got = {a["api"]: [(r["required"], r["reject"]) for r in a["requirements"]] for a in fast["apis"]}
    assert got["API 0"] == got["API 1"] == [({"scope": ["s1"]}, 1)]
    assert got["API 2"] == [({"claim": "/a~1b", "values": ["v"]}, 1)]
    assert got["API 3"] == [({"claim": "n", "values": ["v2", "v3"]}, 1)]
    assert got["API 4"] == [({"client": ["c"]}, 1)]
    assert got["API 5"] == [({"role": ["b"]}, 1)]
    assert got["API 6"] == []
    assert got["API 7"] == [({"role": ["r\u00e9"]}, 1)]
    assert got["API 8"] == [({"claim": "c", "values": []}, 1)]
    assert got["API 9"] == [({"scope": []}, 1)]
    assert got["API 10"] == [({"scope": ["ok"]}, 1)]
    assert got["API 11"] == [({"client": ["\U0001F600"]}, 1)]
    assert got["API 12"] == [({"scope": ["escaped name"]}, 1)]
    r13 = api_of(fast, "API 13")["requirements"][0]
    assert r13["scopes"] == [] and r13["roles"] == []
    r14 = api_of(fast, "API 14")["requirements"][0]
    assert [s["scope"] for s in r14["scopes"]] == ["a", "b"]
    assert r14["roles"] == [{"role": "r2", "count": 1}]


def test_fuzzed_requirement_records_agree_with_a_reference(tmp_path):
    rng = random.Random(11)
    words = ["openid", "orders.read", "orders.write", "Orders.Write", "profile", "é", "a b"]
    reqs = [WRITE, KC_ADMIN, ROLE, {"client": ["c1", "c2"]}, {"scope": ["x"]}]
    recs, ref = [], defaultdict(lambda: {"n": Counter(), "scopes": Counter(), "roles": Counter()})
    for i in range(600):
        kind = rng.random()
        t = START + i * STEP
        if kind < 0.2:
            recs.append(record(t, "F", "accept", aud=["x"], matched="x", client="c"))
        elif kind < 0.3:
            recs.append(preflight(t, api="F"))
        else:
            req = rng.choice(reqs)
            d = rng.choice(["reject", "audit_reject"])
            scopes = rng.sample(words, rng.randint(0, 4))
            roles = rng.sample(words, rng.randint(0, 2))
            recs.append(refused(t, req, scopes=scopes, roles=roles, decision=d, api="F"))
            key = json.dumps(req, sort_keys=True)
            ref[key]["n"][d] += 1
            ref[key]["scopes"].update(set(scopes))
            ref[key]["roles"].update(set(roles))
    path = write_log(tmp_path / "f.log", recs)
    fast, slow = (run_json("--parser", p, "--threads", "2", "--chunk-size", "4K", path) for p in ("fast", "jansson"))
    assert fast["apis"] == slow["apis"]
    got = {json.dumps(r["required"], sort_keys=True): r for r in fast["apis"][0]["requirements"]}
    assert set(got) == set(ref)
    for key, r in got.items():
        assert (r["reject"], r["audit_reject"]) == (ref[key]["n"]["reject"], ref[key]["n"]["audit_reject"])
        assert r["requests"] == r["reject"] + r["audit_reject"]
        assert {s["scope"]: s["count"] for s in r["scopes"]} == dict(ref[key]["scopes"])
        assert {s["role"]: s["count"] for s in r["roles"]} == dict(ref[key]["roles"])
        counts = [s["count"] for s in r["scopes"]]
        assert counts == sorted(counts, reverse=True)
    order = [r["requests"] for r in fast["apis"][0]["requirements"]]
    assert order == sorted(order, reverse=True)


def test_hostile_scope_and_requirement_text_is_escaped(tmp_path):
    evil = "x\u202ey\n\x1b[31mz<blink>"
    recs = [refused(START, {"claim": "c\u2028" + "<marquee>", "values": [evil]}, scopes=[evil], roles=["<script>"])]
    path = write_log(tmp_path / "e.log", recs)
    out = run(path, check=0).stdout.decode()
    assert "\x1b" not in out and "\u202e" not in out and "\u2028" not in out
    assert "\\u202e" in out or "\\u202E" in out
    html = tmp_path / "e.html"
    run("--html", str(html), path, check=0)
    page = html.read_text()
    assert "<script>" not in page and "<blink>" not in page and "<marquee>" not in page
    assert "&lt;blink&gt;" in page and "&lt;marquee&gt;" in page
    assert "&lt;script&gt;" in page and "Unmet requirements" in page
    doc = run_json(path)
    assert doc["apis"][0]["requirements"][0]["scopes"] == [{"scope": evil, "count": 1}]


def test_html_shows_preflight_and_a_requirements_table(mixed, tmp_path):
    html = tmp_path / "m.html"
    run("--html", str(html), mixed["path"], check=0)
    page = html.read_text()
    orders = page[page.index("Orders API</h2>"):]
    orders = orders[:orders.index("</section>")]
    assert "preflight &middot;" in orders and "<th class=\"n\">preflight</th>" in orders
    table = orders[orders.index("<h3>Unmet requirements</h3>"):]
    table = table[:table.index("</table>")]
    rows = re.findall(r"<tr><td class=\"v\">(.*?)</td><td class=\"n\">(\d+)</td><td class=\"n\">(\d+)</td>", table)
    assert rows == [("scope orders.write | orders.admin", "7", "2"),
                    ("claim /realm_access/roles = orders-admin", "3", "0"),
                    ("role Orders.Approve", "1", "0")]
    assert "openid (7)<br>orders.read (7)<br>Orders.Write (2)" in table
    users = page[page.index("Users API</h2>"):]
    users = users[:users.index("</section>")]
    assert "preflight" not in users and "Unmet requirements" not in users


def test_memory_follows_distinct_requirements_not_lines(tmp_path):
    from test_memory import peak_rss_kib

    pool = []
    for k in range(120):
        req = [WRITE, KC_ADMIN, ROLE, {"client": [f"c{k % 7}"]}][k % 4]
        pool.append(dumps(refused(START + k * STEP, req, scopes=[f"scope-{k % 30}", "openid"],
                                  roles=[f"role-{k % 11}"], api=f"API {k % 3}",
                                  decision=("reject", "audit_reject")[k % 2])).encode())
    rng = random.Random(9)
    small, big = tmp_path / "small.log", tmp_path / "big.log"
    small.write_bytes(b"\n".join(rng.choice(pool) for _ in range(2000)) + b"\n")
    # Large enough that the bound holds for the sanitizer build too, whose
    # shadow memory alone is tens of megabytes.
    big.write_bytes(b"\n".join(rng.choice(pool) for _ in range(400000)) + b"\n")
    a, b = peak_rss_kib("/dev/null", small), peak_rss_kib("/dev/null", big)
    # 200 times the lines over the same keys: only buffers in flight may
    # differ.
    assert b - a < 48 * 1024, (a, b)
    assert b * 1024 < big.stat().st_size // 2, (b, big.stat().st_size)
