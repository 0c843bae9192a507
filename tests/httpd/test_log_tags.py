"""Every error-log tag the module writes is in one table, in one format,
and in README's list: operators grep and alert on these tags, so a tag that
is written but not documented (AUD0104 once was) or documented but never
written is a defect."""
import re

from conftest import SRCDIR

GLUE = SRCDIR / "mod_src" / "httpd"


def table_tags():
    text = (GLUE / "aud_httpd_log.c").read_text()
    body = text[text.index("aud_log_tags[]"):]
    body = body[:body.index("{NULL, NULL}")]
    return re.findall(r'\{"(AUD\d{4})",', body)


def written_tags():
    tags = set()
    for f in GLUE.glob("*.c"):
        tags |= {f"AUD{n}" for n in re.findall(r"AUDLOGNO\((\d{4})\)", f.read_text())}
    return tags


def readme_tags():
    text = (SRCDIR / "README.md").read_text()
    section = text[text.index("## Error log"):]
    section = section[:section.index("\n## ", 1)]
    return set(re.findall(r"AUD\d{4}", section))


def test_table_has_each_tag_once():
    tags = table_tags()
    assert len(tags) == len(set(tags)) and len(tags) >= 14, tags


def test_every_written_tag_is_in_the_table_and_back():
    assert written_tags() == set(table_tags())


def test_readme_lists_exactly_the_table():
    assert readme_tags() == set(table_tags())


def test_no_tag_is_written_outside_the_macro():
    # One format: AUDLOGNO(n) gives "AUDnnnn: "; a literal "AUD0101 ..." in a
    # log call would be a second one.
    for f in GLUE.glob("*.c"):
        for line in f.read_text().splitlines():
            if "aud_log_tags" in line or re.match(r'\s*\{"AUD\d{4}"', line):
                continue
            assert not re.search(r'"[^"]*AUD\d{4}', line), f"{f.name}: {line.strip()}"
