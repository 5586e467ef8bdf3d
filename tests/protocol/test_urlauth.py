"""URLAUTH (RFC 4467) with the INTERNAL mechanism: GENURLAUTH, URLFETCH and
RESETKEY against the real server, bad input included; and messageContent
(RFC 5423 §5) in sink events: a small message's event carries its bytes, an
oversized one's carries a URLAUTH URL that URLFETCH resolves to exactly
the message, and RESETKEY invalidates that URL (issue 5).
"""
import base64
import json
import os
import re
import subprocess
import time

import jsonschema
import pytest
from conftest import ROOT, TIDINGSD, TIMEOUT, append_message, simple_message

HOST = "mail.example.org"

with open(os.path.join(ROOT, "docs", "events.schema.json")) as _f:
    VALIDATOR = jsonschema.Draft202012Validator(json.load(_f))


def raw_command(c, tag, text):
    """Send a command; return (raw bytes of the untagged part, tagged line).
    Literals are read by their byte count, so data is exact."""
    c.send(f"{tag} {text}\r\n")
    out = b""
    while True:
        while b"\r\n" not in c.buf:
            c._fill()
        line, c.buf = c.buf.split(b"\r\n", 1)
        m = re.search(rb"\{(\d+)\}$", line)
        if m:
            n = int(m.group(1))
            while len(c.buf) < n:
                c._fill()
            out += line + b"\r\n" + c.buf[:n]
            c.buf = c.buf[n:]
            # the rest of the response line follows the literal
            while b"\r\n" not in c.buf:
                c._fill()
            rest, c.buf = c.buf.split(b"\r\n", 1)
            out += rest + b"\r\n"
            continue
        if line.startswith(tag.encode() + b" "):
            return out, line.decode()
        out += line + b"\r\n"


def urlfetch(c, *urls, tag="U1"):
    """URLFETCH urls; returns ([data bytes or None per URL], tagged line)."""
    args = " ".join(quote(u) for u in urls)
    untagged, tagged = raw_command(c, tag, f"URLFETCH {args}")
    assert untagged.startswith(b"* URLFETCH "), untagged[:200]
    rest = untagged[len(b"* URLFETCH "):]
    values = []
    for u in urls:
        q = quote(u).encode()
        assert rest.startswith(q + b" "), (rest[:200], q)
        rest = rest[len(q) + 1:]
        if rest.startswith(b"NIL"):
            values.append(None)
            rest = rest[3:]
        else:
            m = re.match(rb"\{(\d+)\}\r\n", rest)
            assert m, rest[:100]
            n = int(m.group(1))
            start = m.end()
            values.append(rest[start:start + n])
            rest = rest[start + n:]
        rest = rest.lstrip(b" ")
    assert rest == b"\r\n", rest
    return values, tagged


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def genurlauth(c, rump, mech="INTERNAL", tag="G1"):
    untagged, tagged = c.command(tag, f"GENURLAUTH {quote(rump)} {mech}")
    urls = []
    for line in untagged:
        if line.startswith("* GENURLAUTH "):
            urls += re.findall(r'"([^"]*)"', line)
    return urls, tagged


def append_get_uid(c, mailbox, body, tag="AP"):
    tagged = append_message(c, mailbox, body, tag=tag)
    m = re.search(r"APPENDUID (\d+) (\d+)", tagged)
    assert m, tagged
    return int(m.group(1)), int(m.group(2))


def rump_of(user, mailbox, uidvalidity, uid, access, extra=""):
    return (f"imap://{user}@{HOST}/{mailbox};UIDVALIDITY={uidvalidity}/;UID={uid}"
            f"{extra};URLAUTH={access}")


@pytest.fixture
def alice(server):
    c = server.raw()
    c.login("alice", "secret-pw")
    yield c
    c.close()


@pytest.fixture
def bob(server):
    c = server.raw()
    c.login("bob", "bob-pw")
    yield c
    c.close()


MSG = simple_message("URLAUTH test", "Si vis pacem, para bellum.\r\n")


def test_capability_advertises_urlauth(alice):
    untagged, tagged = alice.command("C1", "CAPABILITY")
    assert tagged.startswith("C1 OK")
    assert " URLAUTH" in untagged[0]


def test_genurlauth_then_urlfetch_by_another_user_returns_exact_message(alice, bob):
    uv, uid = append_get_uid(alice, "INBOX", MSG)
    rump = rump_of("alice", "INBOX", uv, uid, "authuser")
    urls, tagged = genurlauth(alice, rump)
    assert tagged.startswith("G1 OK"), tagged
    assert len(urls) == 1
    url = urls[0]
    # RFC 4467 §5: the rump, ":", the mechanism, ":", >= 32 hex digits
    assert url.startswith(rump + ":INTERNAL:")
    assert re.fullmatch(r"[0-9a-f]{32,}", url.split(":INTERNAL:")[1])
    # the same URL again: the key is kept, the token deterministic
    again, _ = genurlauth(alice, rump, tag="G2")
    assert again == [url]
    values, tagged = urlfetch(bob, url)
    assert tagged.startswith("U1 OK"), tagged
    assert values == [MSG.encode()]
    # and the owner, with no mailbox selected, too
    values, _ = urlfetch(alice, url)
    assert values == [MSG.encode()]


def test_urlfetch_section_and_partial(alice, bob):
    uv, uid = append_get_uid(alice, "INBOX", MSG)
    head, text = MSG.encode().split(b"\r\n\r\n", 1)
    cases = [
        ("/;SECTION=TEXT", text),
        ("/;SECTION=HEADER", head + b"\r\n\r\n"),
        ("/;SECTION=1", text),
        ("/;PARTIAL=0.4", MSG.encode()[:4]),
        ("/;SECTION=TEXT/;PARTIAL=3.5", text[3:8]),
        ("/;PARTIAL=6", MSG.encode()[6:]),
    ]
    for extra, want in cases:
        urls, tagged = genurlauth(alice, rump_of("alice", "INBOX", uv, uid, "anonymous", extra))
        assert tagged.startswith("G1 OK"), (extra, tagged)
        values, _ = urlfetch(bob, urls[0])
        assert values == [want], extra


def test_user_access_identifier_limits_who_fetches(alice, bob):
    uv, uid = append_get_uid(alice, "INBOX", MSG)
    for_bob, _ = genurlauth(alice, rump_of("alice", "INBOX", uv, uid, "user+bob"))
    for_alice, _ = genurlauth(alice, rump_of("alice", "INBOX", uv, uid, "user+alice"), tag="G2")
    values, tagged = urlfetch(bob, for_bob[0], for_alice[0])
    assert tagged.startswith("U1 OK")
    assert values == [MSG.encode(), None]
    values, _ = urlfetch(alice, for_bob[0], for_alice[0])
    assert values == [None, MSG.encode()]
    # submit+: no session has a submission role here
    sub, tagged = genurlauth(alice, rump_of("alice", "INBOX", uv, uid, "submit+alice"), tag="G3")
    assert tagged.startswith("G3 OK")
    values, _ = urlfetch(alice, sub[0])
    assert values == [None]


def test_tampered_urls_fetch_nil_with_ok(alice, bob):
    uv, uid = append_get_uid(alice, "INBOX", MSG)
    append_get_uid(alice, "INBOX", simple_message("second"), tag="AP2")
    url = genurlauth(alice, rump_of("alice", "INBOX", uv, uid, "authuser"))[0][0]
    token = url.rsplit(":", 1)[1]
    flipped = token[:-1] + ("0" if token[-1] != "0" else "1")
    bad = [
        url[:-1] + flipped[-1],                          # one digit changed
        url[:-2],                                        # token shortened
        url.replace(f";UID={uid};", f";UID={uid + 1};"),  # another message
        url.replace(";URLAUTH=authuser", ";URLAUTH=anonymous"),
        url.replace("imap://alice@", "imap://bob@"),     # another owner
        url.replace(f"UIDVALIDITY={uv}", f"UIDVALIDITY={uv + 1}"),
        url.replace("INBOX", "inbox"),                  # no folding (§6)
        url.replace(":INTERNAL:", ":XSAMPLE:"),
        url.split(":INTERNAL:")[0],                     # no token at all
        f"imap://alice@{HOST}/INBOX",                    # a whole mailbox
        f"imap://alice@{HOST}/",                         # the server
        f"imap://alice@{HOST}/INBOX?SUBJECT%20x",        # search results
        "http://example.org/",                           # not IMAP
        "imap://alice@" + HOST + "/INBOX/;UID=1;URLAUTH=bogus:INTERNAL:" + "0" * 66,
        "x" * 5000,                                      # too long
    ]
    values, tagged = urlfetch(bob, *bad)
    assert tagged.startswith("U1 OK"), tagged
    assert values == [None] * len(bad)
    # the good one still works in the same command
    values, _ = urlfetch(bob, bad[0], url, tag="U2")
    assert values == [None, MSG.encode()]


def test_expire(alice, bob):
    uv, uid = append_get_uid(alice, "INBOX", MSG)
    past = rump_of("alice", "INBOX", uv, uid, "authuser", ";EXPIRE=2001-02-03T04:05:06Z")
    future = rump_of("alice", "INBOX", uv, uid, "authuser", ";EXPIRE=2999-01-01T00:00:00+01:00")
    old, tagged = genurlauth(alice, past)
    assert tagged.startswith("G1 OK"), tagged
    new, tagged = genurlauth(alice, future, tag="G2")
    assert tagged.startswith("G2 OK"), tagged
    values, _ = urlfetch(bob, old[0], new[0])
    assert values == [None, MSG.encode()]
    # a token made for one expiry does not validate another
    moved = new[0].replace("2999-01-01", "2999-01-02")
    values, _ = urlfetch(bob, moved, tag="U2")
    assert values == [None]


def test_expunged_message_fetches_nil(alice, bob):
    uv, uid = append_get_uid(alice, "INBOX", MSG)
    url = genurlauth(alice, rump_of("alice", "INBOX", uv, uid, "authuser"))[0][0]
    alice.command("S1", "SELECT INBOX")
    alice.command("S2", f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
    _, tagged = alice.command("S3", "EXPUNGE")
    assert tagged.startswith("S3 OK")
    values, tagged = urlfetch(bob, url)
    assert tagged.startswith("U1 OK")
    assert values == [None]


def test_resetkey_mailbox_invalidates_its_urls_only(alice, bob):
    alice.command("C1", "CREATE Other")
    uv, uid = append_get_uid(alice, "INBOX", MSG)
    ouv, ouid = append_get_uid(alice, "Other", MSG, tag="AP2")
    inbox_url = genurlauth(alice, rump_of("alice", "INBOX", uv, uid, "authuser"))[0][0]
    other_url = genurlauth(alice, rump_of("alice", "Other", ouv, ouid, "authuser"), tag="G2")[0][0]
    _, tagged = alice.command("R1", "RESETKEY INBOX")
    assert tagged.startswith("R1 OK [URLMECH INTERNAL]"), tagged
    values, _ = urlfetch(bob, inbox_url, other_url)
    assert values == [None, MSG.encode()]
    # a new URL for the same message works again, with another token
    fresh = genurlauth(alice, rump_of("alice", "INBOX", uv, uid, "authuser"), tag="G3")[0][0]
    assert fresh != inbox_url
    values, _ = urlfetch(bob, fresh, tag="U2")
    assert values == [MSG.encode()]
    # with the mechanism named
    _, tagged = alice.command("R2", "RESETKEY Other INTERNAL")
    assert tagged.startswith("R2 OK [URLMECH INTERNAL]"), tagged
    values, _ = urlfetch(bob, other_url, tag="U3")
    assert values == [None]


def test_resetkey_without_arguments_removes_every_key(alice, bob):
    alice.command("C1", "CREATE Other")
    uv, uid = append_get_uid(alice, "INBOX", MSG)
    ouv, ouid = append_get_uid(alice, "Other", MSG, tag="AP2")
    urls = [genurlauth(alice, rump_of("alice", "INBOX", uv, uid, "authuser"))[0][0],
            genurlauth(alice, rump_of("alice", "Other", ouv, ouid, "authuser"), tag="G2")[0][0]]
    # bob's keys are his own: his RESETKEY changes nothing of alice's
    _, tagged = bob.command("R0", "RESETKEY")
    assert tagged.startswith("R0 OK")
    values, _ = urlfetch(bob, *urls)
    assert values == [MSG.encode(), MSG.encode()]
    _, tagged = alice.command("R1", "RESETKEY")
    assert tagged.startswith("R1 OK"), tagged
    values, _ = urlfetch(bob, *urls, tag="U2")
    assert values == [None, None]


def test_resetkey_bad_input(alice):
    _, tagged = alice.command("R1", "RESETKEY Nonexistent")
    assert tagged.startswith("R1 NO [NONEXISTENT]"), tagged
    _, tagged = alice.command("R2", "RESETKEY INBOX XSAMPLE")
    assert tagged.startswith("R2 BAD"), tagged
    _, tagged = alice.command("R3", "RESETKEY (INBOX)")
    assert tagged.startswith("R3 BAD"), tagged


def test_genurlauth_bad_input(alice, bob):
    uv, uid = append_get_uid(alice, "INBOX", MSG)
    bob_uv, bob_uid = append_get_uid(bob, "INBOX", MSG)
    good = rump_of("alice", "INBOX", uv, uid, "authuser")
    cases = [
        # RFC 4467 §7 examples: no access identifier, no owner
        f"imap://alice@{HOST}/INBOX;UIDVALIDITY={uv}/;UID={uid}",
        f"imap://{HOST}/INBOX;UIDVALIDITY={uv}/;UID={uid};URLAUTH=authuser",
        # another user's mailbox
        rump_of("bob", "INBOX", bob_uv, bob_uid, "authuser"),
        # no such mailbox, stale UIDVALIDITY
        rump_of("alice", "Nope", uv, uid, "authuser"),
        rump_of("alice", "INBOX", uv + 1, uid, "authuser"),
        # §3: not for a whole mailbox or the server
        f"imap://alice@{HOST}/INBOX;URLAUTH=authuser",
        f"imap://alice@{HOST}/;URLAUTH=authuser",
        # a URL that already has a token
        good + ":INTERNAL:" + "0" * 66,
        # syntax
        "imap://alice@" + HOST + "/INBOX/;UID=0;URLAUTH=authuser",
        "imap://alice@" + HOST + "/INBOX/;UID=1;URLAUTH=user+",
        "imap://alice@" + HOST + "/INBOX/;UID=1;EXPIRE=2020-13-01T00:00:00Z;URLAUTH=authuser",
        "imap://alice@" + HOST + "/IN%ZZBOX/;UID=1;URLAUTH=authuser",
        "not a url",
        "",
    ]
    for i, rump in enumerate(cases):
        urls, tagged = genurlauth(alice, rump, tag=f"B{i}")
        assert tagged.startswith(f"B{i} BAD"), (rump, tagged)
        assert urls == []
    _, tagged = alice.command("M1", f"GENURLAUTH {quote(good)} XSAMPLE")
    assert tagged.startswith("M1 BAD"), tagged
    _, tagged = alice.command("M2", f"GENURLAUTH {quote(good)}")
    assert tagged.startswith("M2 BAD"), tagged
    _, tagged = alice.command("M3", "GENURLAUTH")
    assert tagged.startswith("M3 BAD"), tagged
    # a bad pair anywhere means no GENURLAUTH response at all
    untagged, tagged = alice.command("M4", f"GENURLAUTH {quote(good)} INTERNAL "
                                     f"{quote(cases[2])} INTERNAL")
    assert tagged.startswith("M4 BAD"), tagged
    assert not any(l.startswith("* GENURLAUTH") for l in untagged)
    # several good pairs: one response with every URL, in order
    second = rump_of("alice", "INBOX", uv, uid, "user+bob")
    untagged, tagged = alice.command("M5", f"GENURLAUTH {quote(good)} INTERNAL "
                                     f"{quote(second)} internal")
    assert tagged.startswith("M5 OK"), tagged
    urls = re.findall(r'"([^"]*)"', untagged[0])
    assert [u.split(":INTERNAL:")[0] for u in urls] == [good, second]


def test_urlfetch_bad_syntax_and_state(server, alice):
    _, tagged = alice.command("U1", "URLFETCH")
    assert tagged.startswith("U1 BAD"), tagged
    _, tagged = alice.command("U2", "URLFETCH (a b)")
    assert tagged.startswith("U2 BAD"), tagged
    _, tagged = alice.command("U3", "URLFETCH " + " ".join(['"imap://x/"'] * 40))
    assert tagged.startswith("U3 BAD"), tagged
    # not before login (RFC 4467 §9: command-auth)
    c = server.raw()
    try:
        for cmd in ('URLFETCH "imap://alice@h/INBOX/;UID=1"', "RESETKEY",
                    'GENURLAUTH "imap://alice@h/INBOX/;UID=1;URLAUTH=authuser" INTERNAL'):
            _, tagged = c.command("N1", cmd)
            assert tagged.startswith("N1 BAD") or tagged.startswith("N1 NO"), tagged
    finally:
        c.close()


def test_urls_survive_restart_and_mailbox_recreate_invalidates(server):
    c = server.raw()
    c.login("alice", "secret-pw")
    c.command("C1", "CREATE Box")
    uv, uid = append_get_uid(c, "Box", MSG)
    url = genurlauth(c, rump_of("alice", "Box", uv, uid, "authuser"))[0][0]
    c.close()
    server.stop()
    server.start()
    c = server.raw()
    c.login("bob", "bob-pw")
    values, _ = urlfetch(c, url)
    assert values == [MSG.encode()]
    a = server.raw()
    a.login("alice", "secret-pw")
    a.command("D1", "DELETE Box")
    a.command("C2", "CREATE Box")
    append_get_uid(a, "Box", MSG)
    a.close()
    values, _ = urlfetch(c, url, tag="U2")
    assert values == [None]
    c.close()


# ---- messageContent in sink events (RFC 5423 §5) ----

def journal_config(path, **opts):
    lines = ["[sink archive]", "type = journal", f"path = {path}"]
    lines += [f"{k} = {v}" for k, v in opts.items()]
    return "\n".join(lines) + "\n"


def wait_events(path, pred, timeout=TIMEOUT):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                events = [json.loads(l) for l in f.read().splitlines() if l]
            hits = [e for e in events if pred(e)]
            if hits:
                for e in events:
                    VALIDATOR.validate(e)
                return hits
        time.sleep(0.05)
    raise AssertionError("no matching event in the journal")


@pytest.fixture
def content_server(server_factory, tmp_path):
    def make(**opts):
        path = str(tmp_path / f"events-{time.time_ns()}.jsonl")
        srv = server_factory(extra_config=journal_config(path, **opts))
        srv.journal = path
        return srv
    return make


def appended(uid):
    return lambda e: e["event"] == "MessageAppend" and e.get("uidset") == str(uid)


def test_small_message_event_carries_its_bytes(content_server):
    srv = content_server(content_max="64K")
    c = srv.raw()
    c.login("alice", "secret-pw")
    uv, uid = append_get_uid(c, "INBOX", MSG)
    ev = wait_events(srv.journal, appended(uid))[0]
    assert ev["messageContent"] == MSG
    assert "vnd.tidings.contentURL" not in ev
    # 8-bit that is not UTF-8: base64 beside, never mistaken for text
    latin1 = ("Subject: caf\xe9\r\n\r\nd\xe9j\xe0 vu\r\n").encode("latin-1")
    uv, uid2 = append_get_uid(c, "INBOX", latin1, tag="AP2")
    ev = wait_events(srv.journal, appended(uid2))[0]
    assert "messageContent" not in ev
    assert base64.b64decode(ev["vnd.tidings.contentBase64"]) == latin1
    c.close()


def test_oversized_message_event_carries_url_urlfetch_resolves_resetkey_invalidates(content_server):
    srv = content_server(content_max="1K")
    c = srv.raw()
    c.login("alice", "secret-pw")
    big = simple_message("big", "".join(f"line {i} of a big message\r\n" for i in range(200)))
    assert len(big) > 1024
    uv, uid = append_get_uid(c, "INBOX", big)
    ev = wait_events(srv.journal, appended(uid))[0]
    assert "messageContent" not in ev
    url = ev["vnd.tidings.contentURL"]
    # the event's own message URL, authorized for the mailbox owner
    assert url.startswith(ev["uri"] + ";URLAUTH=user+alice:INTERNAL:")
    values, tagged = urlfetch(c, url)
    assert tagged.startswith("U1 OK")
    assert values == [big.encode()]
    # user+alice: another login cannot use it
    b = srv.raw()
    b.login("bob", "bob-pw")
    values, _ = urlfetch(b, url)
    assert values == [None]
    b.close()
    _, tagged = c.command("R1", "RESETKEY INBOX")
    assert tagged.startswith("R1 OK")
    values, _ = urlfetch(c, url, tag="U2")
    assert values == [None]
    c.close()


def test_content_access_authuser_lets_an_archive_login_fetch(content_server):
    srv = content_server(content_max="100", content_access="authuser")
    c = srv.raw()
    c.login("alice", "secret-pw")
    uv, uid = append_get_uid(c, "INBOX", MSG)
    ev = wait_events(srv.journal, appended(uid))[0]
    url = ev["vnd.tidings.contentURL"]
    assert ";URLAUTH=authuser:INTERNAL:" in url
    b = srv.raw()
    b.login("bob", "bob-pw")
    values, _ = urlfetch(b, url)
    assert values == [MSG.encode()]
    b.close()
    c.close()


def test_content_filtering(content_server):
    # content_max 0 (the default): no content; params without
    # messageContent: none either
    for opts in ({}, {"content_max": "64K", "params": "uri uidset"}):
        srv = content_server(**opts)
        c = srv.raw()
        c.login("alice", "secret-pw")
        uv, uid = append_get_uid(c, "INBOX", MSG)
        ev = wait_events(srv.journal, appended(uid))[0]
        assert not any(k in ev for k in ("messageContent", "vnd.tidings.contentURL",
                                          "vnd.tidings.contentBase64")), ev
        c.close()
        srv.stop()
    # params naming messageContent: content (and its stand-ins) only
    srv = content_server(content_max="64K", params="uidset messageContent")
    c = srv.raw()
    c.login("alice", "secret-pw")
    uv, uid = append_get_uid(c, "INBOX", MSG)
    ev = wait_events(srv.journal, appended(uid))[0]
    assert set(ev) == {"seq", "event", "uidset", "messageContent"}
    assert ev["messageContent"] == MSG
    c.close()


@pytest.mark.parametrize("value", ["root", "user+", "anonymous", "submit+x"])
def test_content_access_config_errors_exit_2(server_factory, tmp_path, value):
    body = journal_config(str(tmp_path / "e.jsonl"), content_access=value)
    srv = server_factory(extra_config=body, users=(), start=False)
    r = subprocess.run([TIDINGSD, "-c", srv.config_path], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 2, r.stderr
    assert "content_access: expected owner, authuser or user+NAME" in r.stderr, r.stderr


def test_owner_url_fetched_by_an_admin_acting_as_the_owner(server_factory, tmp_path):
    """content_access = owner: an archive with admin credentials logs in
    with the owner as authorization identity (SASL PLAIN authzid) and
    fetches; the admin logged in as itself cannot."""
    path = str(tmp_path / "events.jsonl")
    srv = server_factory(extra_config="admins = root\n" + journal_config(path, content_max="100"),
                         users=(("alice", "secret-pw"), ("root", "root-pw")))
    c = srv.raw()
    c.login("alice", "secret-pw")
    uv, uid = append_get_uid(c, "INBOX", MSG)
    c.close()
    url = wait_events(path, appended(uid))[0]["vnd.tidings.contentURL"]
    root = srv.raw()
    root.login("root", "root-pw")
    values, _ = urlfetch(root, url)
    assert values == [None]
    root.close()
    archive = srv.raw()
    plain = base64.b64encode(b"alice\0root\0root-pw").decode()
    _, tagged = archive.command("A1", "AUTHENTICATE PLAIN " + plain)
    assert tagged.startswith("A1 OK"), tagged
    values, _ = urlfetch(archive, url)
    assert values == [MSG.encode()]
    archive.close()


def test_lmtp_message_new_carries_content_and_url(server_factory, tmp_path):
    """MessageNew (LMTP): the content is the message as stored, trace
    lines included, exactly what URLFETCH (and FETCH BODY[]) returns."""
    import smtplib
    from conftest import free_port
    path = str(tmp_path / "events.jsonl")
    port = free_port()
    srv = server_factory(extra_config=f"lmtp_listen = 127.0.0.1:{port}\n"
                         + journal_config(path, content_max="2K"))
    small = simple_message("lmtp small")
    big = simple_message("lmtp big", "x" * 3000 + "\r\n")
    with smtplib.LMTP("127.0.0.1", port, timeout=TIMEOUT) as s:
        assert s.sendmail("sender@example.org", ["alice@example.org"], small.encode()) == {}
        assert s.sendmail("sender@example.org", ["alice@example.org"], big.encode()) == {}
    news = wait_events(path, lambda e: e["event"] == "MessageNew" and e["uidset"] == "2")
    first = wait_events(path, lambda e: e["event"] == "MessageNew" and e["uidset"] == "1")[0]
    c = srv.raw()
    c.login("alice", "secret-pw")
    c.command("S1", "EXAMINE INBOX")
    stored = []
    for uid in (1, 2):
        out, tagged = raw_command(c, f"F{uid}", f"UID FETCH {uid} BODY.PEEK[]")
        m = re.search(rb"\{(\d+)\}\r\n", out)
        stored.append(out[m.end():m.end() + int(m.group(1))])
    assert stored[0].startswith(b"Return-Path: <sender@example.org>\r\n")
    assert first["messageContent"].encode() == stored[0]
    url = news[0]["vnd.tidings.contentURL"]
    values, _ = urlfetch(c, url)
    assert values == [stored[1]]
    c.close()


def test_urlfetch_total_size_is_capped(server_factory):
    srv = server_factory(extra_config="max_message_size = 10K\n")
    c = srv.raw()
    c.login("alice", "secret-pw")
    msg = simple_message("six k", "y" * 6000 + "\r\n")
    uv, uid = append_get_uid(c, "INBOX", msg)
    url = genurlauth(c, rump_of("alice", "INBOX", uv, uid, "authuser"))[0][0]
    values, tagged = urlfetch(c, url)
    assert values == [msg.encode()]
    _, tagged = c.command("U2", f"URLFETCH {quote(url)} {quote(url)}")
    assert tagged.startswith("U2 NO [LIMIT]"), tagged
    # the session goes on
    values, _ = urlfetch(c, url, tag="U3")
    assert values == [msg.encode()]
    c.close()
