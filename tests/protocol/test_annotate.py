"""ANNOTATE-EXPERIMENT-1 (RFC 5257) against a real tidingsd: STORE / FETCH /
SEARCH / APPEND ANNOTATION, value.priv / value.shared / size.*, entry wild
cards, [ANNOTATIONS n / READ-ONLY] at SELECT, [ANNOTATE TOOBIG] and
[ANNOTATE TOOMANY] with configured limits, bad names, rights on a shared
mailbox, MODSEQ bumps (CONDSTORE), COPY / MOVE carrying annotations, and
the vnd.tidings.AnnotationChange event NOTIFY reads."""
import json
import os
import re
import sqlite3

import jsonschema
from conftest import ROOT, append_message, simple_message

with open(os.path.join(ROOT, "docs", "events.schema.json")) as _f:
    VALIDATOR = jsonschema.Draft202012Validator(json.load(_f))


def ok(c, tag, text):
    untagged, tagged = c.command(tag, text)
    assert tagged.startswith(tag + " OK"), (text, tagged)
    return untagged


def bad(c, tag, text):
    _, tagged = c.command(tag, text)
    assert tagged.startswith(tag + " BAD"), (text, tagged)
    return tagged


def no(c, tag, text, code):
    _, tagged = c.command(tag, text)
    assert tagged.startswith(f"{tag} NO [{code}]"), (text, tagged)
    return tagged


def login(srv, user="alice", pw="secret-pw"):
    c = srv.raw()
    c.login(user, pw)
    return c


def setup_inbox(c, n=2):
    for i in range(n):
        assert "OK" in append_message(c, "INBOX", simple_message(f"m{i}"), tag=f"P{i}")
    return ok(c, "S", "SELECT INBOX")


def events(srv):
    db = sqlite3.connect(f"file:{srv.data_dir}/index.db?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT seq, type, user_id, mailbox_id, params FROM outbox "
                          "WHERE type = 'vnd.tidings.AnnotationChange' ORDER BY seq").fetchall()
    finally:
        db.close()
    out = []
    for seq, t, uid, mid, p in rows:
        ev = json.loads(p)
        VALIDATOR.validate(dict(ev, seq=seq))
        assert ev["event"] == t
        out.append(dict(ev, _user_id=uid, _mailbox_id=mid))
    return out


def annotation_rows(srv):
    db = sqlite3.connect(f"file:{srv.data_dir}/index.db?mode=ro", uri=True)
    try:
        return db.execute("SELECT count(*) FROM annotations").fetchone()[0]
    finally:
        db.close()


def fetch_line(untagged):
    lines = [u for u in untagged if " FETCH " in u]
    assert len(lines) == 1, untagged
    return lines[0]


def test_capability_and_select_codes(server):
    c = login(server)
    caps = ok(c, "A", "CAPABILITY")[0].split()
    assert "ANNOTATE-EXPERIMENT-1" in caps
    # §4.1: every SELECT / EXAMINE says what annotations the mailbox takes
    assert "* OK [ANNOTATIONS 65536] Largest annotation value" in ok(c, "B", "SELECT INBOX")
    assert any(u.startswith("* OK [ANNOTATIONS READ-ONLY]") for u in ok(c, "C", "EXAMINE INBOX"))
    # §4.2: the ANNOTATE select parameter is accepted
    assert any("[ANNOTATIONS 65536]" in u for u in ok(c, "D", "SELECT INBOX (ANNOTATE)"))
    bad(c, "E", "SELECT INBOX (ANNOTATEX)")
    c.close()


def test_configured_max_size_in_select(server_factory):
    srv = server_factory(extra_config="annotate_max_size = 2048\n")
    c = login(srv)
    assert any("[ANNOTATIONS 2048]" in u for u in ok(c, "A", "SELECT INBOX"))
    c.close()


def test_store_and_fetch_values(server):
    c = login(server)
    setup_inbox(c)
    # §4.5: implicit .SILENT: no untagged FETCH without CONDSTORE
    untagged = ok(c, "A", 'STORE 1 ANNOTATION (/comment (value.priv "My comment" '
                          'value.shared "Group note"))')
    assert not [u for u in untagged if "FETCH" in u]
    line = fetch_line(ok(c, "B", "FETCH 1 (ANNOTATION (/comment value))"))
    assert line == ('* 1 FETCH (ANNOTATION (/comment (value.priv "My comment" '
                    'value.shared "Group note")))')
    line = fetch_line(ok(c, "C", "FETCH 1 (ANNOTATION (/comment (value size)))"))
    assert line == ('* 1 FETCH (ANNOTATION (/comment (value.priv "My comment" '
                    'value.shared "Group note" size.priv "10" size.shared "10")))')
    line = fetch_line(ok(c, "D", "FETCH 1 (ANNOTATION (/comment size.shared))"))
    assert line == '* 1 FETCH (ANNOTATION (/comment (size.shared "10")))'
    # one fetch-att without parentheses (RFC 3501 fetch grammar)
    line = fetch_line(ok(c, "E", "FETCH 1 ANNOTATION (/comment value.priv)"))
    assert line == '* 1 FETCH (ANNOTATION (/comment (value.priv "My comment")))'
    # the other message has none: a named entry gives NIL and "0" (§3.2.2)
    line = fetch_line(ok(c, "F", "FETCH 2 (ANNOTATION (/comment (value.shared size.priv)))"))
    assert line == '* 2 FETCH (ANNOTATION (/comment (value.shared NIL size.priv "0")))'
    # with other items, in the order asked, and UID FETCH adds UID
    line = fetch_line(ok(c, "G", "UID FETCH 1 (FLAGS ANNOTATION (/comment value.shared))"))
    assert line == '* 1 FETCH (UID 1 FLAGS (\\Recent) ANNOTATION (/comment (value.shared "Group note")))'
    # NIL removes the value (§4.5); the other one stays
    ok(c, "H", "STORE 1 ANNOTATION (/comment (value.shared NIL))")
    line = fetch_line(ok(c, "I", "FETCH 1 (ANNOTATION (/comment value))"))
    assert line == '* 1 FETCH (ANNOTATION (/comment (value.priv "My comment" value.shared NIL)))'
    # replacing, several entries at once, UID STORE
    ok(c, "J", 'UID STORE 1:2 ANNOTATION (/comment (value.priv "Get tix") '
               '/altsubject (value.priv "Wots On"))')
    for seq in (1, 2):
        line = fetch_line(ok(c, f"K{seq}", f"FETCH {seq} (ANNOTATION ((/comment /altsubject) value.priv))"))
        assert line == (f'* {seq} FETCH (ANNOTATION (/comment (value.priv "Get tix") '
                        f'/altsubject (value.priv "Wots On")))')
    c.close()


def test_wildcards(server):
    c = login(server)
    setup_inbox(c, 1)
    ok(c, "A", 'STORE 1 ANNOTATION (/comment (value.shared "c") /altsubject (value.priv "a") '
               '/vendor/x/label (value.priv "l") /1/comment (value.shared "part"))')
    # '*' matches across '/', '%' only within one level (§4.3)
    line = fetch_line(ok(c, "B", "FETCH 1 (ANNOTATION (/* value.priv))"))
    assert line == ('* 1 FETCH (ANNOTATION (/altsubject (value.priv "a") '
                    '/vendor/x/label (value.priv "l")))')
    line = fetch_line(ok(c, "C", "FETCH 1 (ANNOTATION (/% value.shared))"))
    assert line == '* 1 FETCH (ANNOTATION (/comment (value.shared "c")))'
    line = fetch_line(ok(c, "D", "FETCH 1 (ANNOTATION (/% value))"))
    assert line == ('* 1 FETCH (ANNOTATION (/altsubject (value.priv "a" value.shared NIL) '
                    '/comment (value.priv NIL value.shared "c")))')
    line = fetch_line(ok(c, "E", "FETCH 1 (ANNOTATION (/*/comment value.shared))"))
    assert line == '* 1 FETCH (ANNOTATION (/1/comment (value.shared "part")))'
    line = fetch_line(ok(c, "F", "FETCH 1 (ANNOTATION (/vendor/% value))"))
    assert line == '* 1 FETCH (ANNOTATION ())'
    # an entry named by two patterns is given once
    line = fetch_line(ok(c, "G", "FETCH 1 (ANNOTATION ((/comment /c*) value.shared))"))
    assert line == '* 1 FETCH (ANNOTATION (/comment (value.shared "c")))'
    c.close()


def test_binary_and_literal_values(server):
    c = login(server)
    setup_inbox(c, 1)
    # a literal8 value with a NUL (§3.2.2, RFC 4466)
    _, tagged = c.command("A", "STORE 1 ANNOTATION (/vendor/t/bin (value.shared ~{5+}\r\na\x00b\"c))")
    assert tagged.startswith("A OK"), tagged
    c.send("B FETCH 1 (ANNOTATION (/vendor/t/bin value.shared))\r\n")
    line = c.readline()
    assert line == "* 1 FETCH (ANNOTATION (/vendor/t/bin (value.shared ~{5}"
    while len(c.buf) < 5:
        c._fill()
    assert c.buf[:5] == b"a\x00b\"c"
    c.buf = c.buf[5:]
    assert c.readline() == ")))"
    _, tagged = c.until_tagged("B")
    assert tagged.startswith("B OK")
    # a quote in a plain value comes back as a literal
    ok(c, "C", 'STORE 1 ANNOTATION (/comment (value.priv "say \\"hi\\""))')
    line = fetch_line(ok(c, "D", "FETCH 1 (ANNOTATION (/comment value.priv))"))
    assert line == '* 1 FETCH (ANNOTATION (/comment (value.priv {8}\r\nsay "hi")))'
    c.close()


def test_bad_names_and_syntax(server):
    c = login(server)
    setup_inbox(c, 1)
    for entry in ("comment", "/", "/a//b", "/a/", "/a*", "/a%b", "/flags", "/flags/seen",
                  "/1x/comment", "/0/comment", "/1", '"/a b"', "/a\\\\b"):
        bad(c, "A", f'STORE 1 ANNOTATION ({entry} (value.priv "x"))')
    for attr in ("value", "size.priv", "value.priv.x", "value..priv", "value.", "foo.priv",
                 "value.private"):
        bad(c, "B", f'STORE 1 ANNOTATION (/comment ({attr} "x"))')
    bad(c, "C", "STORE 1 ANNOTATION (/comment)")
    bad(c, "D", 'STORE 1 ANNOTATION (/comment (value.priv))')
    bad(c, "E", 'STORE 1 ANNOTATION (/comment (value.priv x))')
    bad(c, "F", "STORE 1 ANNOTATION ()")
    bad(c, "G", 'STORE 1 ANNOTATION /comment (value.priv "x")')
    bad(c, "H", 'STORE 1 +ANNOTATION (/comment (value.priv "x"))')
    bad(c, "I", "FETCH 1 (ANNOTATION (comment value))")
    bad(c, "J", "FETCH 1 (ANNOTATION (/comment value.priv.shared))")
    bad(c, "K", "FETCH 1 (ANNOTATION (/comment))")
    bad(c, "L", "FETCH 1 (ANNOTATION)")
    bad(c, "M", "FETCH 1 (ANNOTATION (/a value) ANNOTATION (/b value))")
    bad(c, "N", "FETCH 1 (ANNOTATION (() value))")
    # §4.8: only value, value.priv, value.shared can be searched
    bad(c, "O", 'SEARCH ANNOTATION /comment size "x"')
    bad(c, "P", 'SEARCH ANNOTATION /comment value.priv')
    bad(c, "Q", 'SEARCH ANNOTATION comment value "x"')
    # an unknown but well-formed attribute is simply not there in FETCH
    line = fetch_line(ok(c, "R", "FETCH 1 (ANNOTATION (/comment vendor-x.priv))"))
    assert line == "* 1 FETCH (ANNOTATION ())"
    # the session is still fine, nothing was stored
    assert annotation_rows(server) == 0
    c.close()


def test_toobig_and_toomany(server_factory):
    srv = server_factory(extra_config="annotate_max_size = 1024\nannotate_max_entries = 10\n")
    c = login(srv)
    setup_inbox(c, 1)
    ok(c, "A", f'STORE 1 ANNOTATION (/comment (value.shared "{"x" * 1024}"))')
    no(c, "B", f'STORE 1 ANNOTATION (/comment (value.shared "{"y" * 1025}"))', "ANNOTATE TOOBIG")
    line = fetch_line(ok(c, "C", "FETCH 1 (ANNOTATION (/comment size.shared))"))
    assert line == '* 1 FETCH (ANNOTATION (/comment (size.shared "1024")))'
    # 9 more values make 10 (§4.1 asks for at least 10); the 11th is refused
    items = " ".join(f'/e{i} (value.priv "v")' for i in range(9))
    ok(c, "D", f"STORE 1 ANNOTATION ({items})")
    no(c, "E", 'STORE 1 ANNOTATION (/e9 (value.shared "v"))', "ANNOTATE TOOMANY")
    # replacing and removing still work at the limit, and free room
    ok(c, "F", 'STORE 1 ANNOTATION (/e0 (value.priv "w"))')
    ok(c, "G", 'STORE 1 ANNOTATION (/e0 (value.priv NIL) /e9 (value.priv "v"))')
    items = " ".join(f'/f{i} (value.priv "v")' for i in range(11))
    no(c, "H", f"STORE 1 ANNOTATION ({items})", "ANNOTATE TOOMANY")
    # all or nothing: the refused command stored nothing
    line = fetch_line(ok(c, "I", "FETCH 1 (ANNOTATION (/f0 value.priv))"))
    assert line == "* 1 FETCH (ANNOTATION (/f0 (value.priv NIL)))"
    c.close()


def test_limits_are_checked_in_config(server_factory):
    # RFC 5257 §4.1: at least 1024 octets and 10 annotations
    for line in ("annotate_max_size = 1000", "annotate_max_entries = 9"):
        srv = server_factory(extra_config=line + "\n", users=(), start=False)
        r = srv.cli("user", "list", check=False)
        assert r.returncode == 2, (line, r.returncode, r.stderr)
        assert "RFC 5257" in r.stderr, r.stderr


def test_two_sessions(server):
    a = login(server)
    setup_inbox(a, 1)
    b = login(server)
    ok(b, "S", "SELECT INBOX")
    ok(a, "A", 'STORE 1 ANNOTATION (/comment (value.priv "mine" value.shared "ours"))')
    line = fetch_line(ok(b, "B", "FETCH 1 (ANNOTATION (/comment value))"))
    assert line == '* 1 FETCH (ANNOTATION (/comment (value.priv "mine" value.shared "ours")))'
    ok(b, "C", 'STORE 1 ANNOTATION (/comment (value.priv "changed"))')
    line = fetch_line(ok(a, "D", "FETCH 1 (ANNOTATION (/comment value.priv))"))
    assert line == '* 1 FETCH (ANNOTATION (/comment (value.priv "changed")))'
    a.close()
    b.close()


def test_shared_mailbox_rights(server):
    a = login(server)
    setup_inbox(a, 1)
    ok(a, "A", 'STORE 1 ANNOTATION (/comment (value.priv "alice only" value.shared "for all"))')
    ok(a, "B", "SETACL INBOX bob lr")
    b = login(server, "bob", "bob-pw")
    sel = ok(b, "C", 'SELECT "Other Users/alice/INBOX"')
    assert any("[ANNOTATIONS" in u for u in sel)
    # bob sees the shared value, never alice's private one (§3.3)
    line = fetch_line(ok(b, "D", "FETCH 1 (ANNOTATION (/comment value))"))
    assert line == '* 1 FETCH (ANNOTATION (/comment (value.priv NIL value.shared "for all")))'
    # .priv needs only 'r'; .shared needs the shared-flag right (§3.4)
    ok(b, "E", 'STORE 1 ANNOTATION (/comment (value.priv "bob only"))')
    # the event of a private change names its user, for NOTIFY to tell
    # only that user; the row belongs to the mailbox owner, as FlagsSet's
    ev = events(server)[-1]
    assert ev["vnd.tidings.private"] is True and ev["user"] == "bob"
    assert ev["mailboxID"].startswith("imap://alice@") and ev["uidset"] == "1"
    no(b, "F", 'STORE 1 ANNOTATION (/comment (value.shared "bob"))', "NOPERM")
    line = fetch_line(ok(a, "G", "FETCH 1 (ANNOTATION (/comment value))"))
    assert line == '* 1 FETCH (ANNOTATION (/comment (value.priv "alice only" value.shared "for all")))'
    line = fetch_line(ok(b, "H", "FETCH 1 (ANNOTATION (/comment value))"))
    assert line == '* 1 FETCH (ANNOTATION (/comment (value.priv "bob only" value.shared "for all")))'
    # searching sees only what the user may see
    assert "* SEARCH" == ok(b, "I", 'SEARCH ANNOTATION /comment value "alice"')[0]
    assert "* SEARCH 1" == ok(b, "J", 'SEARCH ANNOTATION /comment value "bob"')[0]
    # 'w' is not enough: .shared values need RFC 5257's "n" (§3.4)
    ok(a, "K", "SETACL INBOX bob lrw")
    ok(b, "L", 'SELECT "Other Users/alice/INBOX"')
    no(b, "M0", 'STORE 1 ANNOTATION (/comment (value.shared "bob"))', "NOPERM")
    ok(a, "K2", "SETACL INBOX bob lrwn")
    ok(b, "M", 'STORE 1 ANNOTATION (/comment (value.shared "bob"))')
    line = fetch_line(ok(a, "N", "FETCH 1 (ANNOTATION (/comment value.shared))"))
    assert line == '* 1 FETCH (ANNOTATION (/comment (value.shared "bob")))'
    a.close()
    b.close()


def test_read_only_refuses_store(server):
    c = login(server)
    setup_inbox(c, 1)
    ok(c, "A", "EXAMINE INBOX")
    no(c, "B", 'STORE 1 ANNOTATION (/comment (value.priv "x"))', "READ-ONLY")
    line = fetch_line(ok(c, "C", "FETCH 1 (ANNOTATION (/comment value.priv))"))
    assert line == "* 1 FETCH (ANNOTATION (/comment (value.priv NIL)))"
    c.close()


def test_search(server):
    c = login(server)
    setup_inbox(c, 3)
    ok(c, "A", 'STORE 1 ANNOTATION (/comment (value.priv "About IMAP4 servers"))')
    ok(c, "B", 'STORE 2 ANNOTATION (/comment (value.shared "imap4rev2 notes"))')
    ok(c, "C", 'STORE 3 ANNOTATION (/vendor/x/note (value.shared "IMAP4"))')
    assert ok(c, "D", 'SEARCH ANNOTATION /comment value "IMAP4"')[0] == "* SEARCH 1 2"
    assert ok(c, "E", 'SEARCH ANNOTATION /comment value.priv "imap4"')[0] == "* SEARCH 1"
    assert ok(c, "F", 'SEARCH ANNOTATION /comment value.shared "imap4"')[0] == "* SEARCH 2"
    assert ok(c, "G", 'SEARCH ANNOTATION * value "imap4"')[0] == "* SEARCH 1 2 3"
    assert ok(c, "H", 'SEARCH ANNOTATION /% value "imap4"')[0] == "* SEARCH 1 2"
    assert ok(c, "I", 'SEARCH ANNOTATION /comment value "nothing"')[0] == "* SEARCH"
    assert ok(c, "J", 'UID SEARCH NOT ANNOTATION * value ""')[0] == "* SEARCH"
    assert ok(c, "K", 'SEARCH OR ANNOTATION /comment value.priv "imap" '
                      'ANNOTATION /vendor/* value "imap"')[0] == "* SEARCH 1 3"
    assert ok(c, "L", 'SEARCH SUBJECT m1 ANNOTATION /comment value "notes"')[0] == "* SEARCH 2"
    # the key works inside SORT's search criteria too; the ANNOTATION
    # sort key itself (§4.9) is not offered
    assert ok(c, "M", 'SORT (ARRIVAL) UTF-8 ANNOTATION /% value "imap4"')[0] == "* SORT 1 2"
    assert ok(c, "N", 'UID SORT (ARRIVAL) UTF-8 ANNOTATION /comment value.priv "imap"')[0] == "* SORT 1"
    bad(c, "O", 'SORT (ANNOTATION /comment value.priv) UTF-8 ALL')
    c.close()


def test_append_with_annotation(server_factory):
    srv = server_factory(extra_config="annotate_max_size = 1024\n")
    c = login(srv)
    msg = simple_message("ann").encode()
    c.send(f'A APPEND INBOX (\\Seen) ANNOTATION (/comment (value.priv "Don\'t send" '
           f'value.shared "draft")) {{{len(msg)}}}\r\n')
    assert c.readline().startswith("+")
    c.send(msg + b"\r\n")
    _, tagged = c.until_tagged("A")
    assert tagged.startswith("A OK [APPENDUID "), tagged
    ok(c, "S", "SELECT INBOX")
    line = fetch_line(ok(c, "B", "FETCH 1 (FLAGS ANNOTATION (/comment value))"))
    assert line == ("* 1 FETCH (FLAGS (\\Seen \\Recent) ANNOTATION (/comment (value.priv \"Don't send\" "
                    "value.shared \"draft\")))")
    # too big: the whole APPEND is refused
    big = "z" * 1025
    c.send(f'C APPEND INBOX ANNOTATION (/comment (value.priv "{big}")) {{{len(msg)}}}\r\n')
    line = c.readline()
    if line.startswith("+"):
        c.send(msg + b"\r\n")
        _, line = c.until_tagged("C")
    assert line.startswith("C NO [ANNOTATE TOOBIG]"), line
    untagged = ok(c, "D", "STATUS INBOX (MESSAGES)")
    assert "(MESSAGES 1)" in untagged[0]
    # bad names: BAD, nothing appended
    c.send(f'E APPEND INBOX ANNOTATION (/flags/seen (value.priv "1")) {{{len(msg)}}}\r\n')
    line = c.readline()
    if line.startswith("+"):
        c.send(msg + b"\r\n")
        _, line = c.until_tagged("E")
    assert line.startswith("E BAD"), line
    assert "(MESSAGES 1)" in ok(c, "F", "STATUS INBOX (MESSAGES)")[0]
    # an append makes no AnnotationChange: MessageAppend says it all
    assert events(srv) == []
    c.close()


def modseq_of(c, tag, seq):
    line = fetch_line(ok(c, tag, f"FETCH {seq} (MODSEQ)"))
    return int(re.search(r"MODSEQ \((\d+)\)", line).group(1))


def test_modseq_and_condstore(server):
    c = login(server)
    setup_inbox(c, 2)
    ok(c, "E", "ENABLE CONDSTORE")
    ok(c, "S", "SELECT INBOX")
    before = modseq_of(c, "A", 1)
    other = modseq_of(c, "A2", 2)
    # RFC 7162 §3.1.3 with RFC 5257 §4.5: the untagged FETCH carries MODSEQ
    untagged = ok(c, "B", 'STORE 1 ANNOTATION (/comment (value.priv "x"))')
    line = fetch_line(untagged)
    m = re.fullmatch(r"\* 1 FETCH \(UID 1 MODSEQ \((\d+)\)\)", line)
    assert m, line
    after = int(m.group(1))
    assert after > before
    assert modseq_of(c, "C", 1) == after
    assert modseq_of(c, "C2", 2) == other
    status = ok(c, "D", "STATUS INBOX (HIGHESTMODSEQ)")[0]
    assert f"HIGHESTMODSEQ {after}" in status
    # the same value again is no change: no new modseq
    ok(c, "F", 'STORE 1 ANNOTATION (/comment (value.priv "x"))')
    assert modseq_of(c, "G", 1) == after
    # CHANGEDSINCE finds the annotated message
    line = fetch_line(ok(c, "H", f"FETCH 1:2 (UID) (CHANGEDSINCE {after - 1})"))
    assert line.startswith("* 1 FETCH")
    # UNCHANGEDSINCE: message 2 passes, message 1 (changed since) fails
    _, tagged = c.command("I", f'STORE 1:2 (UNCHANGEDSINCE {other}) ANNOTATION '
                               f'(/comment (value.shared "y"))')
    assert tagged.startswith("I OK [MODIFIED 1]"), tagged
    line = fetch_line(ok(c, "J", "FETCH 1:2 (ANNOTATION (/comment value.shared))")[0:1])
    assert line == '* 1 FETCH (ANNOTATION (/comment (value.shared NIL)))'
    line = fetch_line(ok(c, "K", "FETCH 2 (ANNOTATION (/comment value.shared))"))
    assert line == '* 2 FETCH (ANNOTATION (/comment (value.shared "y")))'
    c.close()


def test_annotation_change_event(server):
    c = login(server)
    setup_inbox(c, 2)
    ok(c, "A", 'STORE 1:2 ANNOTATION (/comment (value.priv "p" value.shared "s") '
               '/altsubject (value.shared "t"))')
    evs = events(server)
    assert len(evs) == 2, evs
    shared, priv = evs
    assert shared["vnd.tidings.private"] is False and priv["vnd.tidings.private"] is True
    assert shared["vnd.tidings.entries"] == "/altsubject /comment"
    assert priv["vnd.tidings.entries"] == "/comment"
    for ev in evs:
        assert ev["uidset"] == "1:2"
        assert ev["mailboxID"].startswith("imap://alice@") and ev["mailboxID"].endswith(
            "/INBOX;UIDVALIDITY=" + ev["mailboxID"].split("UIDVALIDITY=")[1])
        assert ev["uri"] == ev["mailboxID"]
        assert ev["user"] == "alice"
        assert isinstance(ev["modseq"], int)
        assert "value" not in json.dumps(ev).lower().replace("uidvalidity", "")
    assert shared["modseq"] == priv["modseq"]
    # one message: uri names it; no change: no event
    ok(c, "B", 'STORE 2 ANNOTATION (/comment (value.shared NIL))')
    ok(c, "C", 'STORE 2 ANNOTATION (/comment (value.shared NIL) /altsubject (value.shared "t"))')
    evs = events(server)
    assert len(evs) == 3, evs
    assert evs[2]["uri"].endswith("/;UID=2") and evs[2]["uidset"] == "2"
    assert evs[2]["vnd.tidings.entries"] == "/comment"
    c.close()


def test_copy_and_move_carry_annotations(server):
    a = login(server)
    setup_inbox(a, 2)
    ok(a, "C", "CREATE Dest")
    ok(a, "A", 'STORE 1:2 ANNOTATION (/comment (value.priv "mine" value.shared "ours"))')
    ok(a, "G", "SETACL INBOX bob lr")
    ok(a, "G2", "SETACL Dest bob lr")
    b = login(server, "bob", "bob-pw")
    ok(b, "S", 'SELECT "Other Users/alice/INBOX"')
    ok(b, "B", 'STORE 1 ANNOTATION (/comment (value.priv "bobs"))')
    # §4.6: the copy gets .shared and the copier's .priv, never another's
    ok(a, "D", "COPY 1 Dest")
    ok(a, "E", "MOVE 2 Dest")
    ok(a, "F", "SELECT Dest")
    for seq in (1, 2):
        line = fetch_line(ok(a, f"H{seq}", f"FETCH {seq} (ANNOTATION (/comment value))"))
        assert line == f'* {seq} FETCH (ANNOTATION (/comment (value.priv "mine" value.shared "ours")))'
    ok(b, "I", 'SELECT "Other Users/alice/Dest"')
    line = fetch_line(ok(b, "J", "FETCH 1 (ANNOTATION (/comment value))"))
    assert line == '* 1 FETCH (ANNOTATION (/comment (value.priv NIL value.shared "ours")))'
    # expunging removes them with the message
    rows = annotation_rows(server)
    ok(a, "K", "STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    ok(a, "L", "EXPUNGE")
    assert annotation_rows(server) == rows - 4
    a.close()
    b.close()


def append_annotated(c, tag, mailbox, annotation, msg):
    """APPEND with an ANNOTATION list; returns the tagged line."""
    c.send(f'{tag} APPEND "{mailbox}" ANNOTATION ({annotation}) {{{len(msg)}}}\r\n')
    line = c.readline()
    if line.startswith("+"):
        c.send(msg + b"\r\n")
        _, line = c.until_tagged(tag)
    return line


def test_shared_annotation_needs_n_right(server):
    """RFC 5257 §3.4 with ACL: "r" reads both kinds and writes .priv,
    "n" (not "w") writes .shared, by STORE and by APPEND alike."""
    a = login(server)
    setup_inbox(a, 1)
    ok(a, "A", 'STORE 1 ANNOTATION (/comment (value.shared "orig"))')
    ok(a, "B", "SETACL INBOX bob lrswi")
    b = login(server, "bob", "bob-pw")
    shared = "Other Users/alice/INBOX"
    ok(b, "C", f'SELECT "{shared}"')
    line = fetch_line(ok(b, "D", "FETCH 1 (ANNOTATION (/comment value.shared))"))
    assert line == '* 1 FETCH (ANNOTATION (/comment (value.shared "orig")))'
    ok(b, "E", 'STORE 1 ANNOTATION (/comment (value.priv "bob"))')
    no(b, "F", 'STORE 1 ANNOTATION (/comment (value.shared "x"))', "NOPERM")
    # one .shared item refuses the whole command
    no(b, "G", 'STORE 1 ANNOTATION (/comment (value.priv "y" value.shared "x"))', "NOPERM")
    msg = simple_message("n-right").encode()
    line = append_annotated(b, "H", shared, '/comment (value.shared "x")', msg)
    assert line.startswith("H NO [NOPERM]"), line
    assert append_annotated(b, "I", shared, '/comment (value.priv "p")', msg).startswith("I OK")
    line = fetch_line(ok(a, "J", "FETCH 1 (ANNOTATION (/comment value))"))
    assert line == '* 1 FETCH (ANNOTATION (/comment (value.priv NIL value.shared "orig")))'
    assert "(MESSAGES 2)" in ok(a, "K", "STATUS INBOX (MESSAGES)")[0]
    # with "n" both work (the selected session sees the new right at once)
    ok(a, "L", "SETACL INBOX bob +n")
    ok(b, "M", 'STORE 1 ANNOTATION (/comment (value.shared "by bob"))')
    line = append_annotated(b, "N", shared, '/comment (value.shared "new")', msg)
    assert line.startswith("N OK"), line
    ok(a, "O", "NOOP")
    line = fetch_line(ok(a, "P", "FETCH 1 (ANNOTATION (/comment value.shared))"))
    assert line == '* 1 FETCH (ANNOTATION (/comment (value.shared "by bob")))'
    line = fetch_line(ok(a, "Q", "FETCH 3 (ANNOTATION (/comment value.shared))"))
    assert line == '* 3 FETCH (ANNOTATION (/comment (value.shared "new")))'
    # "n" alone (without "r") reads nothing: no SELECT
    ok(a, "R", "SETACL INBOX bob ln")
    no(b, "S", f'EXAMINE "{shared}"', "NOPERM")
    a.close()
    b.close()
