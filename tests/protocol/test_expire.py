"""Message expiry: the `expire` rules (by SPECIAL-USE attribute or by
name), applied by `tidings expire [USER]` and by tidingsd's timer
(expire_interval); each run removes only messages whose INTERNALDATE is
older than the rule's age, through the expunge path (quota usage follows,
IMAP sessions see EXPUNGE), with one MessageExpire per mailbox (RFC 5423
§4.1) in the outbox, validated against docs/events.schema.json.
"""
import json
import os
import sqlite3
import subprocess
import time

import jsonschema
import pytest
from conftest import TIDINGSD, TIMEOUT, simple_message

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
with open(os.path.join(ROOT, "docs", "events.schema.json")) as _f:
    VALIDATOR = jsonschema.Draft202012Validator(json.load(_f))

OLD = "01-Jan-2020 10:00:00 +0000"
RULES = "expire = \\Trash:30d Junk:7d Archive/Old:365d"


def outbox(srv, after=0):
    db = sqlite3.connect(f"file:{srv.data_dir}/index.db?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT seq, type, params FROM outbox WHERE seq > ? "
                          "ORDER BY seq", (after,)).fetchall()
    finally:
        db.close()
    out = []
    for seq, t, p in rows:
        ev = json.loads(p)
        VALIDATOR.validate(dict(ev, seq=seq))
        out.append((seq, t, ev))
    return out


def last_seq(srv):
    rows = outbox(srv)
    return rows[-1][0] if rows else 0


def append_dated(c, mailbox, body, date=None, tag="AP"):
    """APPEND with an INTERNALDATE (RFC 3501 §6.3.11 date-time)."""
    data = body.encode()
    dt = f'"{date}" ' if date else ""
    c.send(f'{tag} APPEND "{mailbox}" {dt}{{{len(data)}}}\r\n')
    cont = c.readline()
    assert cont.startswith("+"), cont
    c.send(data + b"\r\n")
    _, tagged = c.until_tagged(tag)
    assert tagged.startswith(f"{tag} OK"), tagged
    return tagged


def uids(c, mailbox):
    _, tagged = c.command("EX", f'EXAMINE "{mailbox}"')
    assert tagged.startswith("EX OK"), tagged
    untagged, tagged = c.command("SE", "UID SEARCH ALL")
    assert tagged.startswith("SE OK"), tagged
    line = [l for l in untagged if l.startswith("* SEARCH")][0]
    return [int(x) for x in line.split()[2:]]


def fill(c):
    """Trash: 1 old, 2 new, 3 old; Junk: 1 old, 2 new; INBOX: 1 old;
    Archive/Old: 1 from 2020 (younger than 365 days? no: older)."""
    append_dated(c, "Trash", simple_message("t1"), OLD)
    append_dated(c, "Trash", simple_message("t2"))
    append_dated(c, "Trash", simple_message("t3"), OLD)
    append_dated(c, "Junk", simple_message("j1"), OLD)
    append_dated(c, "Junk", simple_message("j2"))
    append_dated(c, "INBOX", simple_message("i1"), OLD)


def test_cli_expires_only_old_messages_in_rule_mailboxes(server_factory):
    srv = server_factory()
    c = srv.raw()
    c.login("alice", "secret-pw")
    fill(c)
    bob = srv.raw()
    bob.login("bob", "bob-pw")
    append_dated(bob, "Trash", simple_message("b1"), OLD)
    bob.close()
    before = srv.cli("quota", "get", "alice").stdout
    assert "messages used 6 " in before, before
    # a session with Trash selected
    _, tagged = c.command("S1", 'SELECT "Trash"')
    assert tagged.startswith("S1 OK"), tagged
    seq0 = last_seq(srv)

    # the rules go into the file only now, for the CLI (the running
    # tidingsd read its config without them: no timer)
    srv.extra_config = RULES
    srv.write_config()
    r = srv.cli("expire", "alice")
    assert "user alice mailbox Trash: 2 expired" in r.stdout, r.stdout
    assert "user alice mailbox Junk: 1 expired" in r.stdout, r.stdout
    assert "3 messages expired" in r.stdout, r.stdout
    assert "bob" not in r.stdout

    # the session hears of it: EXPUNGE for sequence numbers 3 and 1
    untagged, tagged = c.command("N1", "NOOP")
    assert tagged.startswith("N1 OK"), tagged
    deadline = time.time() + TIMEOUT
    while sum(1 for l in untagged if l.endswith(" EXPUNGE")) < 2 and time.time() < deadline:
        time.sleep(0.1)
        more, tagged = c.command("N2", "NOOP")
        untagged += more
    exp = [l for l in untagged if l.endswith(" EXPUNGE")]
    assert exp == ["* 3 EXPUNGE", "* 1 EXPUNGE"], untagged

    assert uids(c, "Trash") == [2]
    assert uids(c, "Junk") == [2]
    assert uids(c, "INBOX") == [1]
    after = srv.cli("quota", "get", "alice").stdout
    assert "messages used 3 " in after, after

    evs = [(t, ev) for _, t, ev in outbox(srv, seq0)]
    assert [t for t, _ in evs] == ["MessageExpire", "MessageExpire"], evs
    by_box = {ev["mailboxID"].split("/")[-1].split(";")[0]: ev for _, ev in evs}
    t = by_box["Trash"]
    assert t["uidset"] == "1,3"
    assert t["messages"] == 1 and t["uidnext"] == 4
    assert isinstance(t["modseq"], int)
    assert ";UIDVALIDITY=" in t["mailboxID"] and t["uri"] == t["mailboxID"]
    assert t["service"] == "expiry"
    j = by_box["Junk"]
    assert j["uidset"] == "1" and j["messages"] == 1 and j["uidnext"] == 3
    assert ";UID=1" in j["uri"]

    # again: nothing left to expire, no event
    seq1 = last_seq(srv)
    r = srv.cli("expire", "alice")
    assert "0 messages expired" in r.stdout, r.stdout
    assert last_seq(srv) == seq1
    # all users: bob's old Trash message goes too
    r = srv.cli("expire")
    assert "user bob mailbox Trash: 1 expired" in r.stdout, r.stdout
    c.close()


def test_cli_expire_unknown_user_and_no_rules(server_factory):
    srv = server_factory(start=False)
    r = srv.cli("expire", "alice")
    assert r.returncode == 0 and "no expire rules" in r.stdout, r.stdout
    srv.extra_config = RULES
    srv.write_config()
    r = srv.cli("expire", "nobody", check=False)
    assert r.returncode == 1, (r.returncode, r.stderr)
    r = srv.cli("expire", "alice", "bob", check=False)
    assert r.returncode == 2, (r.returncode, r.stderr)


def test_tidingsd_timer_expires_by_itself(server_factory):
    srv = server_factory(extra_config="expire = \\Trash:1h\nexpire_interval = 1")
    c = srv.raw()
    c.login("alice", "secret-pw")
    append_dated(c, "Trash", simple_message("new"))
    _, tagged = c.command("S1", 'SELECT "Trash"')
    assert tagged.startswith("S1 OK"), tagged
    append_dated(c, "Trash", simple_message("old"), OLD)
    deadline = time.time() + TIMEOUT
    found = []
    untagged = []
    while time.time() < deadline:
        found = [ev for _, t, ev in outbox(srv) if t == "MessageExpire"]
        more, _ = c.command("N1", "NOOP")
        untagged += more
        if found and any(l.endswith(" EXPUNGE") for l in untagged):
            break
        time.sleep(0.2)
    assert len(found) == 1, found
    assert found[0]["uidset"] == "2" and found[0]["service"] == "expiry"
    assert "* 2 EXPUNGE" in untagged, untagged
    assert uids(c, "Trash") == [1]
    c.close()
    srv.stop()
    assert "expiry: 1 message(s) expired from Trash of alice" in srv.log()


@pytest.mark.parametrize("line", [
    "expire = \\Trash",
    "expire = \\Trash:30",
    "expire = \\Trash:30x",
    "expire = \\Trash:0d",
    "expire = Trash:d",
    "expire = :30d",
    "expire = \\:30d",
    "expire = Trash:99999999999d",
    "expire_interval = 0",
])
def test_bad_expire_config_exit_2(server_factory, line):
    srv = server_factory(start=False, users=())
    srv.extra_config = line
    srv.write_config()
    with open(srv.config_path) as f:
        lineno = f.read().splitlines().index(line) + 1
    try:
        r = subprocess.run([TIDINGSD, "-c", srv.config_path], capture_output=True,
                           text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError("tidingsd kept running on a bad configuration")
    assert r.returncode == 2, (line, r.returncode, r.stderr)
    assert f"{srv.config_path}:{lineno}" in r.stderr, (line, r.stderr)
    r = srv.cli("expire", check=False)
    assert r.returncode == 2, (line, r.returncode, r.stderr)
