"""The fast scanner against jansson: the same records, the same malformed
lines, whatever the bytes. jansson parses every line in full (--parser
jansson), so any disagreement is the scanner's."""
import json
import random

import pytest

from conftest import START, dumps, record, run


def both(path, *extra):
    docs = []
    for parser in ("fast", "jansson"):
        p = run("--json", "--parser", parser, *extra, path, check=0)
        doc = json.loads(p.stdout)
        # The wording of a parse error is the parser's own; where and how
        # many are not.
        for e in doc["input"]["malformed_examples"]:
            e["error"] = e["error"].split(":")[0]
        docs.append(doc)
    return docs


TRICKY_VALID = [
    # Escaped member names and values.
    r'{"\u0074ime":"2026-11-23T00:00:00.000Z","\u0061pi":"Caf\u00e9 API","decision":"acc\u0065pt",'
    r'"aud":["api:\/\/x"],"matched":"api:\/\/x","client":"a\"b\\c"}',
    # Surrogate pairs, every simple escape.
    r'{"time":"2026-11-23T00:00:00.000Z","api":"E","decision":"reject","aud":["\ud83d\ude00 \b\f\n\r\t"],'
    r'"client":"\u00e9\u4e2d","reasons":["aud_mismatch"]}',
    # Raw UTF-8 (not what the module writes, but valid JSON).
    '{"time":"2026-11-23T00:00:00.000Z","api":"Ünïcode","decision":"accept","aud":["é"],"matched":"é","client":"中"}',
    # Whitespace everywhere JSON allows it.
    ' \t{ "time" : "2026-11-23T00:00:00.000Z" ,\t"api":"W" , "decision" : "reject" , "aud" : [ "a" , "b" ] ,'
    ' "reasons" : [ ] , "hints" : [ { "code" : "c" , "text" : "t" } ] }\r ',
    # Duplicate members: the last one wins, in both parsers.
    '{"time":"2026-11-23T00:00:00.000Z","api":"first","api":"D","decision":"reject","decision":"accept",'
    '"aud":["one"],"aud":null,"client":"x","client":null}',
    # Unusual types: aud as a string, an object; non-string elements; hints
    # that are not objects or lack a code.
    '{"time":"2026-11-23T00:00:00.000Z","api":"T","decision":"reject","aud":"single","client":7,"matched":[],'
    '"reasons":["expired",1,null,{"x":[]},"aud_mismatch"],"hints":[1,"s",{"text":"no code"},{"code":"c","text":5}]}',
    '{"time":"2026-11-23T00:00:00.000Z","api":"T","decision":"reject","aud":{"a":1},"reasons":"expired",'
    '"hints":{"code":"c"}}',
    # Numbers of every form, literals, deep unknown nesting.
    '{"n":[0,-0,1.5,-2e10,3E+2,4e-3,123456789012345678,-9223372036854775808,9223372036854775807,1.7e308],'
    '"b":[true,false,null],"deep":' + "[" * 500 + "{}" + "]" * 500 + ','
    '"time":"2026-11-23T00:00:00.000Z","api":"N","decision":"accept"}',
    # Times with offsets and fractions.
    '{"time":"2026-11-23T01:00:00+01:00","api":"O","decision":"accept"}',
    '{"time":"2026-11-22T23:59:59.9999999Z","api":"O","decision":"accept"}',
    '{"time":"2016-12-31T23:59:60Z","api":"O","decision":"accept"}',
    # An empty object member name, DEL in a string.
    '{"":1,"time":"2026-11-23T00:00:00.000Z","api":"\x7f","decision":"accept"}',
]

TRICKY_INVALID = [
    '{"time":"2026-11-23T00:00:00.000Z","api":"A","decision":"accept",}',
    '{"time":"2026-11-23T00:00:00.000Z","api":"A","decision":"accept"',
    '{"time":"2026-11-23T00:00:00.000Z" "api":"A","decision":"accept"}',
    '{time:"2026-11-23T00:00:00.000Z","decision":"accept"}',
    "{'time':'2026-11-23T00:00:00.000Z','decision':'accept'}",
    '{"time":"2026-11-23T00:00:00.000Z","decision":"accept","x":01}',
    '{"time":"2026-11-23T00:00:00.000Z","decision":"accept","x":1.}',
    '{"time":"2026-11-23T00:00:00.000Z","decision":"accept","x":.5}',
    '{"time":"2026-11-23T00:00:00.000Z","decision":"accept","x":1e}',
    '{"time":"2026-11-23T00:00:00.000Z","decision":"accept","x":-}',
    '{"time":"2026-11-23T00:00:00.000Z","decision":"accept","x":+1}',
    '{"time":"2026-11-23T00:00:00.000Z","decision":"accept","x":1e400}',
    '{"time":"2026-11-23T00:00:00.000Z","decision":"accept","x":-92233720368547758090}',
    '{"time":"2026-11-23T00:00:00.000Z","decision":"accept","x":nul}',
    '{"time":"2026-11-23T00:00:00.000Z","decision":"accept","x":truex}',
    '{"time":"2026-11-23T00:00:00.000Z","decision":"accept","x":[1,]}',
    '{"time":"2026-11-23T00:00:00.000Z","decision":"accept","x":[1 2]}',
    r'{"time":"2026-11-23T00:00:00.000Z","decision":"accept","x":"\u12"}',
    r'{"time":"2026-11-23T00:00:00.000Z","decision":"accept","x":"\udc00"}',
    r'{"time":"2026-11-23T00:00:00.000Z","decision":"accept","x":"\ud800\u0041"}',
    r'{"time":"2026-11-23T00:00:00.000Z","decision":"accept","x":"\x41"}',
    '{"time":"2026-11-23T00:00:00.000Z","decision":"accept","deep":' + "[" * 2048 + "]" * 2048 + "}",
    '{"time":"2026-11-23T00:00:00.000Z","decision":"accept"}{}',
    '\ufeff{"time":"2026-11-23T00:00:00.000Z","decision":"accept"}',
    "{}",
    '{"time":"2026-13-01T00:00:00Z","decision":"accept"}',
    '{"time":"2026-11-23T00:00:00.000+0100","decision":"accept"}',
    '{"time":"2026-11-23T00:00:00.Z","decision":"accept"}',
    '{"time":"2026-11-23","decision":"accept","api":"date alone is fine"}',  # valid: counted below
]


def test_tricky_lines_agree_and_are_counted_as_expected(tmp_path):
    p = tmp_path / "tricky.log"
    p.write_text("\n".join(TRICKY_VALID + TRICKY_INVALID) + "\n", encoding="utf-8")
    fast, jans = both(p)
    assert fast == jans
    assert fast["input"]["records"] == len(TRICKY_VALID) + 1
    assert fast["input"]["malformed"] == len(TRICKY_INVALID) - 1
    apis = {a["api"]: a for a in fast["apis"]}
    assert apis["Café API"]["accept"] == 1
    assert apis["Café API"]["audiences"][0]["aud"] == ["api://x"]
    assert apis["Café API"]["audiences"][0]["clients"][0]["client"] == 'a"b\\c'
    e = apis["E"]["audiences"][0]
    assert e["aud"] == ["\U0001F600 \b\f\n\r\t"] and e["clients"][0]["client"] == "é中"
    assert apis["Ünïcode"]["suggest"]["allow"] == [{"audience": "é", "accepted": 1}]
    w = apis["W"]["audiences"][0]
    assert w["aud"] == ["a", "b"] and w["hints"][0]["texts"] == [{"text": "t", "count": 1}]
    d = apis["D"]
    assert (d["accept"], d["audiences"][0]["aud"], d["audiences"][0]["clients"][0]["client"]) == (1, None, None)
    t = apis["T"]
    auds = {json.dumps(a["aud"]): a for a in t["audiences"]}
    assert set(auds) == {'["single"]', "null"}
    single = auds['["single"]']
    assert single["reasons"] == [{"reason": "aud_mismatch", "count": 1}, {"reason": "expired", "count": 1}]
    assert single["hints"] == [{"code": "c", "count": 1, "texts": [{"text": None, "count": 1}]}]
    assert single["clients"][0]["client"] is None and single["allowed"] is False
    assert auds["null"]["reasons"] == [] and auds["null"]["hints"] == []
    assert apis["N"]["accept"] == 1
    o = apis["O"]
    assert (o["accept"], o["first"], o["last"]) == (3, "2016-12-31T23:59:59.999Z", "2026-11-23T00:00:00.000Z")
    assert apis["\x7f"]["accept"] == 1
    assert apis["date alone is fine"]["first"] == "2026-11-23T00:00:00.000Z"


def test_nesting_limit_is_jansson_s(tmp_path):
    ok = '{"time":"2026-11-23T00:00:00.000Z","decision":"accept","d":' + "[" * 2047 + "]" * 2047 + "}"
    too_deep = '{"time":"2026-11-23T00:00:00.000Z","decision":"accept","d":' + "[" * 2048 + "]" * 2048 + "}"
    p = tmp_path / "deep.log"
    p.write_text(ok + "\n" + too_deep + "\n")
    fast, jans = both(p)
    assert fast == jans
    assert (fast["input"]["records"], fast["input"]["malformed"]) == (1, 1)


def mutate(line: bytes, rng: random.Random) -> bytes:
    b = bytearray(line)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(4)
        i = rng.randrange(len(b) + (op == 1))
        if op == 0 and b:
            del b[i]
        elif op == 1:
            b.insert(i, rng.choice(b'{}[]":,\\u0123456789eE.-+tfn \t\x00\x7f\xc3\xa9\xff' + bytes([rng.randrange(256)])))
        elif op == 2 and b:
            b[i] = rng.randrange(256)
        elif b:
            j = rng.randrange(len(b))
            b[i], b[j] = b[j], b[i]
    return bytes(b).replace(b"\n", b" ")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fuzzed_lines_get_the_same_verdicts(tmp_path, seed):
    rng = random.Random(seed)
    seeds = [dumps(record(START, "F", d, aud=[f"api://{k}"], matched=f"api://{k}" if d == "accept" else None,
                          client=f"c{k}", reasons=[] if d == "accept" else ["aud_mismatch"],
                          hints=[] if d == "accept" else [{"code": "h", "text": f"t\u00e9{k}"}])).encode()
             for k, d in enumerate(["accept", "reject", "audit_reject"] * 3)]
    seeds += [line.encode("utf-8") for line in TRICKY_VALID]
    lines = [mutate(rng.choice(seeds), rng) for _ in range(3000)]
    p = tmp_path / "fuzz.log"
    p.write_bytes(b"\n".join(lines) + b"\n")
    fast, jans = both(p)
    assert fast == jans
    # The mutations must have produced both outcomes, or this proves little.
    assert fast["input"]["malformed"] > 1000 and fast["input"]["records"] > 200


# Regression: jansson's lexer silently drops a raw NUL byte that follows a
# number or a literal (it takes the pushed-back NUL for an empty buffer), so
# `--parser jansson` counted lines like `..."status":200\0}` as records while
# the fast scanner refused them. This pins that both parsers refuse a raw NUL
# wherever it is in a line, and still count the valid line beside them.
NUL_LINES = [
    b'{"time":"2026-11-23T00:00:00.000Z","api":"Z","decision":"accept","status":200\x00}',
    b'{"time":"2026-11-23T00:00:00.000Z","api":"Z","decision":"accept","x":null\x00,"y":1}',
    b'{"time":"2026-11-23T00:00:00.000Z","api":"Z","decision":"accept","x":true\x00 }',
    b'{"time":"2026-11-23T00:00:00.000Z","api":"Z","decision":"accept","x":[1\x00,2.5e3\x00]}',
    b'{"time":"2026-11-23T00:00:00.000Z","api":"Z","decision":"accept","x":false\x00}',
    b'{"time":"2026-11-23T00:00:00.000Z","api":"Z","decision":"accept"}\x00',
    b'\x00{"time":"2026-11-23T00:00:00.000Z","api":"Z","decision":"accept"}',
    b'{"time":"2026-11-23T00:00:00.000Z","api":"Z\x00","decision":"accept"}',
]


def test_raw_nul_bytes_are_refused_by_both_parsers(tmp_path):
    valid = b'{"time":"2026-11-23T00:00:00.000Z","api":"Z","decision":"accept","x":1e-400}'
    p = tmp_path / "nul.log"
    p.write_bytes(b"\n".join(NUL_LINES + [valid]) + b"\n")
    fast, jans = both(p)
    for doc in (fast, jans):
        assert (doc["input"]["records"], doc["input"]["malformed"]) == (1, len(NUL_LINES))
        assert [a["api"] for a in doc["apis"]] == ["Z"] and doc["apis"][0]["accept"] == 1
    assert fast == jans
    assert [e["line"] for e in jans["input"]["malformed_examples"]] == [1, 2, 3, 4, 5]
