"""METADATA (RFC 5464) against a real tidingsd: GETMETADATA (MAXSIZE, DEPTH),
SETMETADATA (set, NIL to remove), server and mailbox entries, /private and
/shared, [METADATA LONGENTRIES/MAXSIZE/TOOMANY], entry name checks, the
admin rule for /shared server entries, and the vendor events NOTIFY reads
(vnd.tidings.MailboxMetadataChange / ServerMetadataChange)."""
import json
import os
import sqlite3

import jsonschema
from conftest import ROOT

with open(os.path.join(ROOT, "docs", "events.schema.json")) as _f:
    VALIDATOR = jsonschema.Draft202012Validator(json.load(_f))

USERS = (("alice", "secret-pw"), ("bob", "bob-pw"), ("root", "root-pw"))


def ok(c, tag, text):
    untagged, tagged = c.command(tag, text)
    assert tagged.startswith(tag + " OK"), (text, tagged)
    return untagged


def bad(c, tag, text):
    _, tagged = c.command(tag, text)
    assert tagged.startswith(tag + " BAD"), (text, tagged)


def no(c, tag, text, code):
    _, tagged = c.command(tag, text)
    assert tagged.startswith(f"{tag} NO [{code}]"), (text, tagged)


def events(srv):
    db = sqlite3.connect(f"file:{srv.data_dir}/index.db?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT seq, type, user_id, mailbox_id, params FROM outbox "
                          "WHERE type LIKE 'vnd.tidings.%MetadataChange' ORDER BY seq").fetchall()
    finally:
        db.close()
    out = []
    for seq, t, uid, mid, p in rows:
        ev = json.loads(p)
        VALIDATOR.validate(dict(ev, seq=seq))
        assert ev["event"] == t
        out.append(dict(ev, _user_id=uid, _mailbox_id=mid))
    return out


def srv_login(srv, user="alice", pw="secret-pw"):
    c = srv.raw()
    c.login(user, pw)
    return c


def test_capability(client):
    caps = ok(client, "A", "CAPABILITY")[0].split()
    assert "METADATA" in caps and "METADATA-SERVER" in caps


def test_mailbox_entries_set_get_remove(client):
    ok(client, "A", 'SETMETADATA INBOX (/private/comment "My comment" /shared/comment "Shared")')
    assert ok(client, "B", 'GETMETADATA INBOX (/shared/comment /private/comment)') == [
        '* METADATA INBOX (/private/comment "My comment" /shared/comment "Shared")']
    # entry names are case-insensitive (§3.2)
    assert ok(client, "C", 'GETMETADATA "inbox" /PRIVATE/Comment') == [
        '* METADATA INBOX (/private/comment "My comment")']
    # NIL removes; a missing entry is reported as NIL
    ok(client, "D", "SETMETADATA INBOX (/private/comment NIL)")
    assert ok(client, "E", "GETMETADATA INBOX /private/comment") == [
        "* METADATA INBOX (/private/comment NIL)"]
    # removing what is not there is fine
    ok(client, "F", "SETMETADATA INBOX (/private/nothing NIL)")


def test_literal_values(client):
    client.send('A SETMETADATA INBOX (/private/comment {21}\r\n')
    assert client.readline().startswith("+")
    client.send("Line one\r\nLine two.\r\n)\r\n")
    _, tagged = client.until_tagged("A")
    assert tagged.startswith("A OK"), tagged
    untagged = ok(client, "B", "GETMETADATA INBOX /private/comment")
    assert untagged == ["* METADATA INBOX (/private/comment {21}\r\nLine one\r\nLine two.\r\n)"]
    # binary (NUL) through literal8, back as literal8
    client.send("C SETMETADATA INBOX (/private/bin ~{3}\r\n")
    assert client.readline().startswith("+")
    client.send(b"a\x00b)\r\n")
    _, tagged = client.until_tagged("C")
    assert tagged.startswith("C OK"), tagged
    client.send("D GETMETADATA INBOX /private/bin\r\n")
    line = client.readline()
    assert line == "* METADATA INBOX (/private/bin ~{3}"
    while len(client.buf) < 3:
        client._fill()
    assert client.buf[:3] == b"a\x00b"
    client.buf = client.buf[3:]
    rest, tagged = client.until_tagged("D")
    assert tagged.startswith("D OK") and rest == [")"]


def test_maxsize_and_depth(client):
    ok(client, "A", 'SETMETADATA INBOX (/private/filters/values/small "SMALLER 5000" '
       '/private/filters/values/boss "FROM boss" /private/filters/values/boss/deep "x" '
       '/private/filters/big "' + "y" * 2199 + '")')
    untagged, tagged = client.command("B", "GETMETADATA (MAXSIZE 1024) INBOX "
                                      "(/private/filters/big /private/filters/values/small)")
    assert tagged.startswith("B OK [METADATA LONGENTRIES 2199]"), tagged
    assert untagged == ['* METADATA INBOX (/private/filters/values/small "SMALLER 5000")']
    # the options after the mailbox, as in RFC 5464's examples
    assert ok(client, "C", "GETMETADATA INBOX (DEPTH 1) (/private/filters/values)") == [
        '* METADATA INBOX (/private/filters/values/boss "FROM boss" '
        '/private/filters/values/small "SMALLER 5000")']
    untagged = ok(client, "D", "GETMETADATA (DEPTH infinity MAXSIZE 100) INBOX /private/filters")
    assert untagged == ['* METADATA INBOX (/private/filters/values/boss "FROM boss" '
                        '/private/filters/values/boss/deep "x" '
                        '/private/filters/values/small "SMALLER 5000")']
    # depth 0 is the default: nothing below
    assert ok(client, "E", "GETMETADATA INBOX /private/filters/values") == [
        "* METADATA INBOX (/private/filters/values NIL)"]
    # a scope root with DEPTH
    untagged = ok(client, "F", "GETMETADATA (DEPTH 1) INBOX /private")
    assert untagged == []


def test_server_entries_and_admin(server_factory):
    srv = server_factory(extra_config="admins = root\n", users=USERS)
    alice = srv_login(srv)
    bob = srv_login(srv, "bob", "bob-pw")
    root = srv_login(srv, "root", "root-pw")
    no(alice, "A", 'SETMETADATA "" (/shared/comment "by alice")', "NOPERM")
    ok(root, "B", 'SETMETADATA "" (/shared/comment "Server comment")')
    ok(alice, "C", 'SETMETADATA "" (/private/vendor/tidings/x "alice only")')
    # everyone reads /shared server entries; /private ones are one's own
    assert ok(bob, "D", 'GETMETADATA "" (/shared/comment /private/vendor/tidings/x)') == [
        '* METADATA "" (/shared/comment "Server comment" /private/vendor/tidings/x NIL)']
    assert ok(alice, "E", 'GETMETADATA "" /private/vendor/tidings/x') == [
        '* METADATA "" (/private/vendor/tidings/x "alice only")']
    evs = [e for e in events(srv) if e["event"] == "vnd.tidings.ServerMetadataChange"]
    assert [e["vnd.tidings.entry"] for e in evs] == ["/shared/comment", "/private/vendor/tidings/x"]
    assert evs[0]["_user_id"] == 0 and evs[0]["user"] == "root"
    assert evs[1]["_user_id"] != 0 and evs[1]["user"] == "alice"
    for c in (alice, bob, root):
        c.close()


def test_mailbox_entries_are_per_user(server):
    alice = srv_login(server)
    bob = srv_login(server, "bob", "bob-pw")
    ok(alice, "A", 'SETMETADATA INBOX (/shared/comment "alice inbox")')
    # bob's INBOX is his own
    assert ok(bob, "B", "GETMETADATA INBOX /shared/comment") == [
        "* METADATA INBOX (/shared/comment NIL)"]
    no(alice, "C", "GETMETADATA NoSuchBox /shared/comment", "NONEXISTENT")
    no(alice, "D", 'SETMETADATA NoSuchBox (/shared/comment "x")', "NONEXISTENT")
    alice.close()
    bob.close()


def test_events_for_mailbox_changes(server, client):
    ok(client, "C", "CREATE Projects")
    ok(client, "A", 'SETMETADATA Projects (/private/comment "one" /shared/comment "two")')
    ok(client, "B", 'SETMETADATA Projects (/private/comment "one")')   # unchanged: no event
    ok(client, "D", "SETMETADATA Projects (/shared/comment NIL)")
    evs = events(server)
    assert [(e["event"], e["vnd.tidings.entry"]) for e in evs] == [
        ("vnd.tidings.MailboxMetadataChange", "/private/comment"),
        ("vnd.tidings.MailboxMetadataChange", "/shared/comment"),
        ("vnd.tidings.MailboxMetadataChange", "/shared/comment")]
    assert "Projects" in evs[0]["mailboxID"] and evs[0]["_mailbox_id"] != 0
    assert all("one" not in json.dumps(e) for e in evs)   # values stay out of events


def test_rename_keeps_delete_drops(client):
    ok(client, "C", "CREATE Old")
    ok(client, "A", 'SETMETADATA Old (/private/comment "kept")')
    ok(client, "R", "RENAME Old New")
    assert ok(client, "B", "GETMETADATA New /private/comment") == [
        '* METADATA New (/private/comment "kept")']
    ok(client, "D", "DELETE New")
    ok(client, "E", "CREATE New")
    assert ok(client, "F", "GETMETADATA New /private/comment") == [
        "* METADATA New (/private/comment NIL)"]
    # a mailbox that stays as a \Noselect parent loses its entries too
    ok(client, "G", "CREATE P/Q")
    ok(client, "H", 'SETMETADATA P (/private/comment "p")')
    ok(client, "I", "DELETE P")
    ok(client, "J", "CREATE P")
    assert ok(client, "K", "GETMETADATA P /private/comment") == [
        "* METADATA P (/private/comment NIL)"]


def test_limits(server_factory):
    srv = server_factory(extra_config="metadata_max_size = 1024\nmetadata_max_entries = 3\n")
    c = srv_login(srv)
    ok(c, "A", 'SETMETADATA INBOX (/private/a "1" /private/b "2")')
    _, tagged = c.command("B", 'SETMETADATA INBOX (/private/c "3" /private/big "' + "x" * 1025 + '")')
    assert tagged.startswith("B NO [METADATA MAXSIZE 1024]"), tagged
    # all or nothing (§4.3): /private/c was not set
    assert ok(c, "C", "GETMETADATA INBOX /private/c") == ["* METADATA INBOX (/private/c NIL)"]
    ok(c, "D", 'SETMETADATA INBOX (/private/c "' + "x" * 1024 + '")')
    _, tagged = c.command("E", 'SETMETADATA INBOX (/private/d "4" /private/a NIL)')
    assert tagged.startswith("E OK"), tagged            # net count unchanged
    no(c, "F", 'SETMETADATA "" (/private/e "5")', "METADATA TOOMANY")
    assert ok(c, "G", 'GETMETADATA "" /private/e') == ['* METADATA "" (/private/e NIL)']
    # replacing an existing entry at the limit works
    ok(c, "H", 'SETMETADATA INBOX (/private/b "two")')
    c.close()


def test_bad_input(client):
    for i, text in enumerate([
            "GETMETADATA", "GETMETADATA INBOX", "SETMETADATA INBOX",
            "SETMETADATA INBOX ()", 'SETMETADATA INBOX (/private/comment)',
            'SETMETADATA INBOX /private/comment "x"',
            'SETMETADATA INBOX (/private//x "v")', 'SETMETADATA INBOX (/private/x/ "v")',
            'SETMETADATA INBOX (/other/x "v")', 'SETMETADATA INBOX (/private/a*b "v")',
            'SETMETADATA INBOX ("/private/a%b" "v")', 'SETMETADATA INBOX (comment "v")',
            'SETMETADATA INBOX (/private "v")', 'SETMETADATA INBOX (/shared/vendor/x "v")',
            'SETMETADATA INBOX ("/private/\xc3\xa9" "v")', 'SETMETADATA INBOX (/private/x (a))',
            "GETMETADATA INBOX ()", "GETMETADATA (DEPTH 2) INBOX /private/x",
            "GETMETADATA (MAXSIZE -1) INBOX /private/x", "GETMETADATA (FOO 1) INBOX /private/x",
            "GETMETADATA (DEPTH) INBOX /private/x", "GETMETADATA () INBOX /private/x",
            "GETMETADATA (DEPTH 1 DEPTH 0) INBOX /private/x",
            "GETMETADATA INBOX /private/a*", "GETMETADATA INBOX /x"]):
        bad(client, f"X{i}", text)
    ok(client, "Z", "NOOP")


# ---- RFC 5464 §3.3 with ACL (RFC 4314): another user's mailbox ----

def test_shared_mailbox_needs_l_and_one_of_rswip(server):
    """bob's view of alice's mailboxes under "Other Users/alice/": 'l'
    alone is not enough; 'lr' reads and sets /private (bob's own values);
    /shared needs 'w' too; without 'l' the mailbox does not exist."""
    alice = srv_login(server)
    bob = srv_login(server, "bob", "bob-pw")
    ok(alice, "A1", 'SETMETADATA INBOX (/private/comment "alice private" /shared/comment "team")')
    ok(alice, "A2", "CREATE Lonly")
    ok(alice, "A3", "SETACL Lonly bob l")
    no(bob, "B1", 'GETMETADATA "Other Users/alice/Lonly" /shared/comment', "NOPERM")
    no(bob, "B2", 'SETMETADATA "Other Users/alice/Lonly" (/private/comment "x")', "NOPERM")
    no(bob, "B3", 'GETMETADATA "Other Users/alice/INBOX" /shared/comment', "NONEXISTENT")
    ok(alice, "A4", "SETACL INBOX bob lr")
    assert ok(bob, "B4", 'GETMETADATA "Other Users/alice/INBOX" (/shared/comment /private/comment)') == [
        '* METADATA "Other Users/alice/INBOX" (/shared/comment "team" /private/comment NIL)']
    ok(bob, "B5", 'SETMETADATA "Other Users/alice/INBOX" (/private/comment "bob private")')
    no(bob, "B6", 'SETMETADATA "Other Users/alice/INBOX" (/shared/comment "x")', "NOPERM")
    # /private stays per user, on both sides
    assert ok(bob, "B7", 'GETMETADATA "Other Users/alice/INBOX" /private/comment') == [
        '* METADATA "Other Users/alice/INBOX" (/private/comment "bob private")']
    assert ok(alice, "A5", "GETMETADATA INBOX (/private/comment /shared/comment)") == [
        '* METADATA INBOX (/private/comment "alice private" /shared/comment "team")']
    ok(alice, "A6", "SETACL INBOX bob +w")
    ok(bob, "B8", 'SETMETADATA "Other Users/alice/INBOX" (/shared/comment "from bob")')
    assert ok(alice, "A7", "GETMETADATA INBOX /shared/comment") == [
        '* METADATA INBOX (/shared/comment "from bob")']
    # bob's /private change is bob's event, not alice's
    evs = [e for e in events(server) if e["vnd.tidings.entry"] == "/private/comment"]
    assert [e["user"] for e in evs] == ["alice", "bob"]
    users = {e["user"]: e["_user_id"] for e in evs}
    assert users["alice"] != users["bob"]
    # rights revoked: gone again
    ok(alice, "A8", "DELETEACL INBOX bob")
    no(bob, "B9", 'GETMETADATA "Other Users/alice/INBOX" /shared/comment', "NONEXISTENT")
    alice.close()
    bob.close()
