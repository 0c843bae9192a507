"""Input: several files, gzip, standard input, malformed and odd lines,
empty and unreadable files."""
import gzip
import json
import os
import subprocess
import time

import pytest

from conftest import BIN, NOW, SCENARIO_TOTAL, START, dumps, record, run, run_json, write_log
from test_json import strip_volatile


def test_merging_plain_and_gzip_parts_gives_the_single_file_answer(scenario, tmp_path):
    recs = scenario["records"]
    parts = [recs[:7000], recs[7000:15000], recs[15000:]]
    a = write_log(tmp_path / "audit.log.2.gz", parts[0], compress=True)
    b = write_log(tmp_path / "audit.log.1", parts[1])
    c = write_log(tmp_path / "audit.log", parts[2])
    whole = run_json(scenario["path"])
    merged = run_json(a, b, c)
    assert strip_volatile(merged) == strip_volatile(whole)
    assert [(f["name"], f["lines"], f["records"]) for f in merged["input"]["files"]] == [
        (str(a), 7000, 7000), (str(b), 8000, 8000), (str(c), SCENARIO_TOTAL - 15000, SCENARIO_TOTAL - 15000)]


def test_order_of_files_does_not_matter(scenario, tmp_path):
    recs = scenario["records"]
    a = write_log(tmp_path / "a.log", recs[:10000])
    b = write_log(tmp_path / "b.log.gz", recs[10000:], compress=True)
    x, y = run_json(a, b), run_json(b, a)
    assert x["apis"] == y["apis"] and x["totals"] == y["totals"]


def test_gzip_is_recognised_by_content_and_multi_member_files_are_read_whole(scenario, tmp_path):
    recs = scenario["records"]
    part1 = gzip.compress("".join(dumps(r) + "\n" for r in recs[:5000]).encode())
    part2 = gzip.compress("".join(dumps(r) + "\n" for r in recs[5000:]).encode())
    p = tmp_path / "rotated-without-extension"
    p.write_bytes(part1 + part2)  # as `cat a.gz b.gz` makes
    assert strip_volatile(run_json(p)) == strip_volatile(run_json(scenario["path"]))


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dash", [False, True])
def test_standard_input(scenario, compress, dash):
    data = scenario["path"].read_bytes()
    if compress:
        data = gzip.compress(data)
    args = ["-"] if dash else []
    doc = run_json(*args, stdin=data)
    assert doc["input"]["files"][0]["name"] == "(standard input)"
    assert strip_volatile(doc) == strip_volatile(run_json(scenario["path"]))


def test_a_slow_pipe_is_read_whole(scenario):
    """A pipe that delivers a few bytes at a time, gzip header included."""
    data = gzip.compress(scenario["path"].read_bytes()[:200000])
    feeder = subprocess.Popen(["/bin/sh", "-c", "dd bs=1 count=1 2>/dev/null; cat"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE)
    tool = subprocess.Popen([str(BIN), "--now", NOW, "--json", "--chunk-size", "1000"], stdin=feeder.stdout,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    feeder.stdout.close()
    feeder.stdin.write(data)
    feeder.stdin.close()
    out, err = tool.communicate(timeout=120)
    feeder.wait(timeout=60)
    assert tool.returncode == 0, err
    doc = json.loads(out)
    n = scenario["path"].read_bytes()[:200000].count(b"\n")
    assert doc["input"]["records"] == n
    # The cut at byte 200,000 leaves a partial last line: malformed.
    assert doc["input"]["malformed"] == 1
    assert doc["input"]["malformed_examples"][0]["line"] == n + 1


BAD_LINES = [
    ("truncated", '{"time":"2026-11-23T00:00:00.000Z","api":"A","decision":"acc'),
    ("not json", "GET /index.html HTTP/1.1"),
    ("array", '["time","api"]'),
    ("trailing", '{"time":"2026-11-23T00:00:00.000Z","api":"A","decision":"accept"} x'),
    ("no decision", '{"time":"2026-11-23T00:00:00.000Z","api":"A"}'),
    ("unknown decision", '{"time":"2026-11-23T00:00:00.000Z","api":"A","decision":"allow"}'),
    ("no time", '{"api":"A","decision":"accept"}'),
    ("bad time", '{"time":"23/11/2026","api":"A","decision":"accept"}'),
    ("time not a string", '{"time":1795392000,"api":"A","decision":"accept"}'),
    ("bad escape", '{"time":"2026-11-23T00:00:00.000Z","api":"A\\q","decision":"accept"}'),
    ("lone surrogate", '{"time":"2026-11-23T00:00:00.000Z","api":"\\ud800","decision":"accept"}'),
    ("nul escape", '{"time":"2026-11-23T00:00:00.000Z","api":"a\\u0000b","decision":"accept"}'),
    ("control char", '{"time":"2026-11-23T00:00:00.000Z","api":"a\tb","decision":"accept"}'),
    ("leading zero", '{"time":"2026-11-23T00:00:00.000Z","status":0200,"api":"A","decision":"accept"}'),
    ("huge integer", '{"time":"2026-11-23T00:00:00.000Z","exp":99999999999999999999,"decision":"accept"}'),
]


def mixed_log(tmp_path, name="mixed.log"):
    """Good records with the bad lines above between them; returns the path
    and the line numbers of the bad ones."""
    good = dumps(record(START, "A", "accept", aud=["x"], matched="x", client="c"))
    lines, bad_at = [], []
    for _, bad in BAD_LINES:
        lines.append(good)
        lines.append(bad)
        bad_at.append(len(lines))
    lines.append(good)
    # Invalid UTF-8 inside a string, as raw bytes.
    raw = "\n".join(lines).encode() + b'\n{"time":"2026-11-23T00:00:00.000Z","api":"\xff","decision":"accept"}\n'
    bad_at.append(len(lines) + 1)
    raw += good.encode() + b"\n"
    p = tmp_path / name
    p.write_bytes(raw)
    return p, bad_at


@pytest.mark.parametrize("parser", ["fast", "jansson"])
def test_malformed_lines_are_counted_reported_and_skipped(tmp_path, parser):
    p, bad_at = mixed_log(tmp_path)
    good_count = len(BAD_LINES) + 2
    proc = run("--json", "--parser", parser, p, check=0)
    doc = json.loads(proc.stdout)
    assert doc["input"]["malformed"] == len(BAD_LINES) + 1 == 16
    assert doc["input"]["records"] == good_count
    assert doc["input"]["lines"] == good_count + 16
    assert doc["totals"]["accept"] == good_count
    # The first five, in order, with file and line.
    assert [(e["file"], e["line"]) for e in doc["input"]["malformed_examples"]] == [(str(p), n) for n in bad_at[:5]]
    err = proc.stderr.decode().splitlines()
    assert err[:5] == [f"aud-audit: {p}:{n}: skipped: {e['error']}"
                       for n, e in zip(bad_at, doc["input"]["malformed_examples"])]
    assert err[5] == "aud-audit: 16 malformed lines skipped in all"
    assert len(err) == 6


def test_malformed_reasons_say_what_is_wrong(tmp_path):
    p, _ = mixed_log(tmp_path)
    text = run(p, check=0).stdout.decode()
    lines = text.splitlines()
    assert "skipped     16 malformed, 0 blank, 0 filtered out" in lines
    assert "malformed lines (skipped; 16 in all, the first 5 shown):" in lines
    assert f"  {p}:2: not a JSON record: unterminated string" in lines
    assert f"  {p}:4: not a JSON record: expected a member name" not in lines  # "GET ..." is not an object
    assert f"  {p}:4: not a JSON record: not a JSON object" in lines
    assert f"  {p}:8: not a JSON record: text after the object" in lines
    assert f"  {p}:10: no \"decision\"" in lines


def test_line_numbers_are_right_across_chunks_threads_and_files(tmp_path):
    p1, bad1 = mixed_log(tmp_path, "one.log")
    p2, bad2 = mixed_log(tmp_path, "two.log")
    gz = tmp_path / "two.log.gz"
    gz.write_bytes(gzip.compress(p2.read_bytes()))
    for extra in (["--threads", "1"], ["--threads", "4", "--chunk-size", "1"], ["--threads", "2", "--chunk-size", "300"]):
        doc = run_json(*extra, p1, gz)
        assert doc["input"]["malformed"] == 32
        assert [(e["file"], e["line"]) for e in doc["input"]["malformed_examples"]] == [
            (str(p1), n) for n in bad1[:5]]
    # With the first file clean, the examples come from the second file.
    clean = write_log(tmp_path / "clean.log", [record(START, "A", "accept")] * 3)
    doc = run_json("--chunk-size", "1", clean, gz)
    assert [(e["file"], e["line"]) for e in doc["input"]["malformed_examples"]] == [(str(gz), n) for n in bad2[:5]]


def test_blank_lines_crlf_and_no_final_newline(tmp_path):
    good = dumps(record(START, "A", "reject", aud=["x"], client="c", reasons=["aud_mismatch"]))
    p = tmp_path / "odd.log"
    p.write_bytes(f"\n{good}\r\n   \n\t\r\n{good}\n\n{good}".encode())
    doc = run_json(p)
    assert doc["input"] == {**doc["input"], "lines": 7, "records": 3, "blank": 4, "malformed": 0}
    assert doc["totals"]["reject"] == 3


def test_field_order_and_unknown_fields_do_not_matter(tmp_path):
    base = record(START, "A", "reject", aud=["x"], client="c", reasons=["aud_mismatch"],
                  hints=[{"code": "h", "text": "t", "extra": {"nested": [1, 2, {"deep": None}]}}])
    reordered = dict(reversed(list(base.items())))
    newer = {**base, "schema_version": 3, "geo": {"country": "FR", "asn": [1, 2]}, "z": [[[[]]]]}
    older = {k: v for k, v in base.items() if k in ("time", "api", "decision", "aud", "client", "reasons")}
    p = write_log(tmp_path / "v.log", [base, reordered, newer, older])
    doc = run_json(p)
    a = doc["apis"][0]
    assert (a["requests"], a["reject"]) == (4, 4)
    assert a["audiences"][0]["clients"] == [{"client": "c", "requests": 4, "accept": 0, "reject": 4,
                                            "audit_reject": 0, "preflight": 0, "reasons": [{"reason": "aud_mismatch", "count": 4}],
                                            "hints": [{"code": "h", "count": 3,
                                                       "texts": [{"text": "t", "count": 3}]}]}]


@pytest.mark.parametrize("via_pipe", [False, True])
def test_a_line_over_one_mebibyte_is_malformed_not_fatal(tmp_path, via_pipe):
    good = dumps(record(START, "A", "accept", aud=["x"], matched="x", client="c"))
    huge = '{"time":"2026-11-23T00:00:00.000Z","api":"A","decision":"accept","pad":"' + "p" * (1 << 20) + '"}'
    data = f"{good}\n{huge}\n{good}\n".encode()
    if via_pipe:
        doc = run_json("-", stdin=data)
        name = "(standard input)"
    else:
        p = tmp_path / "huge.log"
        p.write_bytes(data)
        doc = run_json(p)
        name = str(p)
    assert (doc["input"]["lines"], doc["input"]["records"], doc["input"]["malformed"]) == (3, 2, 1)
    assert doc["input"]["malformed_examples"] == [{"file": name, "line": 2, "error": "line longer than 1 MiB"}]


def test_a_line_just_under_the_limit_is_read(tmp_path):
    head = '{"time":"2026-11-23T00:00:00.000Z","api":"A","decision":"accept","pad":"'
    line = head + "p" * ((1 << 20) - len(head) - 2) + '"}'
    assert len(line) == 1 << 20
    for data in (line.encode() + b"\n", line.encode()):
        assert run_json("-", stdin=data)["input"]["records"] == 1


def test_empty_file(tmp_path):
    p = tmp_path / "empty.log"
    p.write_bytes(b"")
    proc = run(p, check=0)
    text = proc.stdout.decode()
    assert "input       1 file, 0 lines, 0 records" in text.splitlines()
    assert "no audit records to report" in text.splitlines()
    assert proc.stderr == b""
    gz = tmp_path / "empty.log.gz"
    gz.write_bytes(gzip.compress(b""))
    assert run_json(gz)["input"]["lines"] == 0
    assert run_json("-", stdin=b"")["input"]["lines"] == 0


def test_missing_file_is_reported_and_the_rest_still_counted(scenario, tmp_path):
    proc = run("--json", tmp_path / "nope.log", scenario["path"], check=1)
    doc = json.loads(proc.stdout)
    assert doc["totals"]["requests"] == SCENARIO_TOTAL
    assert doc["input"]["files"][0]["read_error"] is True
    assert f"aud-audit: {tmp_path / 'nope.log'}: No such file or directory" in proc.stderr.decode()


def test_directory_is_an_input_error(tmp_path):
    proc = run(tmp_path, check=1)
    assert "is a directory" in proc.stderr.decode()


def test_truncated_gzip_keeps_what_was_read(scenario, tmp_path):
    data = gzip.compress(scenario["path"].read_bytes())
    p = tmp_path / "cut.log.gz"
    p.write_bytes(data[: len(data) // 2])
    proc = run("--json", p, check=1)
    doc = json.loads(proc.stdout)
    assert 0 < doc["input"]["records"] < SCENARIO_TOTAL
    assert "the gzip data is truncated" in proc.stderr.decode()


def test_corrupt_gzip_is_an_input_error(scenario, tmp_path):
    data = bytearray(gzip.compress(scenario["path"].read_bytes()))
    data[-8] ^= 0xFF  # the CRC-32 of the member no longer matches
    p = tmp_path / "bad.gz"
    p.write_bytes(bytes(data))
    proc = run("--json", p, check=1)
    assert "the gzip data is corrupt" in proc.stderr.decode()
    # Everything before the check was read and counted.
    assert json.loads(proc.stdout)["input"]["records"] == SCENARIO_TOTAL


def test_unwritable_html_path_fails_before_reading(scenario, tmp_path):
    proc = run("--html", tmp_path / "no" / "such" / "dir.html", scenario["path"], check=2)
    assert "cannot write" in proc.stderr.decode()
    assert proc.stdout == b""


def test_a_report_that_cannot_be_written_is_an_error(scenario):
    with open("/dev/full", "wb") as full:
        p = subprocess.run([str(BIN), "--now", NOW, scenario["path"]], stdout=full, stderr=subprocess.PIPE,
                           timeout=120)
    assert p.returncode == 1
    assert b"cannot write the report to standard output" in p.stderr


def test_a_file_name_that_is_not_utf8_still_gives_valid_json(tmp_path):
    name = os.fsencode(tmp_path) + b"/log-\xff.log"
    with open(name, "wb") as f:
        f.write((dumps(record(START, "A", "accept")) + "\n").encode())
    doc = run_json(os.fsdecode(name))
    assert doc["input"]["files"][0]["name"] == str(tmp_path) + "/log-\ufffd.log"


def test_many_distinct_clients_do_not_make_it_quadratic(tmp_path):
    # Clients and hint texts come from tokens, so a flood of forged tokens
    # can make every one distinct.
    n = 60000
    lines = (dumps(record(START, "A", "reject", aud=[f"aud{i % 500}"], client=f"c{i}", reasons=["aud_mismatch"],
                          hints=[{"code": "h", "text": f"from c{i}"}])) for i in range(n))
    p = tmp_path / "distinct.log"
    p.write_text("\n".join(lines) + "\n")
    t0 = time.monotonic()
    doc = run_json(p)
    elapsed = time.monotonic() - t0
    assert doc["totals"]["reject"] == n
    assert len(doc["apis"][0]["hints"][0]["texts"]) == n
    assert sum(len(a["clients"]) for a in doc["apis"][0]["audiences"]) == n
    # Linear work takes about 3 s here, sanitizers included; growing a list
    # one element at a time took 40 s under ASan, a quadratic search longer.
    assert elapsed < 20, elapsed
