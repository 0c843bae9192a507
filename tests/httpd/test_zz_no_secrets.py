"""Runs last: no token minted during the session, nor its payload or
signature, nor the HMAC secret, appears in any log file any server wrote."""
import base64

from conftest import b64u


def test_no_token_or_signature_in_any_log(httpd, mint, keys, workdir):
    logs = [p for p in workdir.rglob("*") if p.is_file() and (p.suffix in (".log", ".txt") or "log" in p.name)]
    assert any(p.name == "audit.log" for p in logs) and any(p.name == "error.log" for p in logs)
    text = b"\n".join(p.read_bytes() for p in logs)
    assert len(mint.issued) > 300, "the suite should have minted many tokens"
    # The records do carry token ids: prove the check would see a leak.
    assert b'"token_id":"' in text

    leaks = []
    for token in mint.issued:
        segments = token.split(".")
        for piece in [token] + [s for s in segments if len(s) >= 16]:
            if piece.encode() in text:
                leaks.append(piece[:40])
        signature = segments[-1] if len(segments) == 3 else ""
        # Any long run of a signature would be a leak as well.
        for i in range(0, max(0, len(signature) - 24), 24):
            if signature[i:i + 24].encode() in text:
                leaks.append("signature fragment " + signature[i:i + 24])
                break
    assert not leaks, f"{len(leaks)} token fragments in the logs, e.g. {leaks[:3]}"

    for form in (keys.secret, keys.secret.hex().encode(), b64u(keys.secret).encode(),
                 base64.b64encode(keys.secret)):
        assert form not in text
