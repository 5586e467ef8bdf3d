"""QUOTA commands (RFC 9208): GETQUOTA, GETQUOTAROOT, SETQUOTA (admins only,
config "admins"), STATUS DELETED / DELETED-STORAGE; and admins acting as
another user through SASL PLAIN's authorization identity (RFC 4616), with
RFC 5423's "admin" parameter in the Login event."""
import base64
import json
import sqlite3
import time

from conftest import TIMEOUT, append_message, simple_message

ADMIN_CONFIG = "admins = root\n"
USERS = (("alice", "secret-pw"), ("bob", "bob-pw"), ("root", "root-pw"))


def ok(c, tag, text):
    untagged, tagged = c.command(tag, text)
    assert tagged.startswith(tag + " OK"), (text, tagged)
    return untagged


def outbox(srv, types):
    db = sqlite3.connect(f"file:{srv.data_dir}/index.db?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT type, params FROM outbox ORDER BY seq").fetchall()
    finally:
        db.close()
    return [json.loads(p) for t, p in rows if t in types]


def wait_outbox(srv, types, n):
    deadline = time.time() + TIMEOUT
    while True:
        evs = outbox(srv, types)
        if len(evs) >= n or time.time() > deadline:
            return evs
        time.sleep(0.05)


def plain(authz, user, password):
    return base64.b64encode(f"{authz}\0{user}\0{password}".encode()).decode()


def test_capabilities(server):
    c = server.raw()
    c.login("alice", "secret-pw")
    caps = ok(c, "A", "CAPABILITY")[0].split()
    for cap in ("QUOTA", "QUOTASET", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE",
                "QUOTA=RES-MAILBOX"):
        assert cap in caps
    # no other resource is claimed (RFC 9208 §5: all of them MUST be listed)
    assert sorted(c for c in caps if c.startswith("QUOTA=RES-")) == \
        ["QUOTA=RES-MAILBOX", "QUOTA=RES-MESSAGE", "QUOTA=RES-STORAGE"]
    c.close()


def test_getquotaroot_and_getquota(server):
    server.cli("quota", "set", "alice", "--storage", "10M", "--messages", "100")
    c = server.raw()
    c.login("alice", "secret-pw")
    append_message(c, "INBOX", simple_message(body="x" * 3000 + "\r\n"))
    untagged = ok(c, "A", "GETQUOTAROOT INBOX")
    assert untagged[0] == '* QUOTAROOT INBOX ""'
    assert untagged[1] == '* QUOTA "" (STORAGE 4 10240 MESSAGE 1 100)'
    assert ok(c, "B", 'GETQUOTA ""') == ['* QUOTA "" (STORAGE 4 10240 MESSAGE 1 100)']
    assert ok(c, "C", 'GETQUOTA "#user/alice"')[0].startswith('* QUOTA #user/alice (STORAGE 4')
    # only limited resources are listed (RFC 9208 §4.2.1)
    server.cli("quota", "set", "alice", "--storage", "0")
    assert ok(c, "D", 'GETQUOTA ""') == ['* QUOTA "" (MESSAGE 1 100)']
    server.cli("quota", "set", "alice", "--messages", "0")
    assert ok(c, "E", 'GETQUOTA ""') == ['* QUOTA "" ()']
    c.close()


def test_quota_bad_input(server):
    c = server.raw()
    c.login("alice", "secret-pw")
    _, t = c.command("A", "GETQUOTAROOT NoSuchBox")
    assert t.startswith("A NO [NONEXISTENT]")
    _, t = c.command("B", 'GETQUOTA "#user/bob"')   # not an admin: no peeking
    assert t.startswith("B NO [NONEXISTENT]")
    _, t = c.command("C", 'GETQUOTA "other root"')
    assert t.startswith("C NO [NONEXISTENT]")
    for i, text in enumerate(["GETQUOTA", "GETQUOTAROOT", "GETQUOTA a b",
                              'SETQUOTA ""', 'SETQUOTA "" STORAGE', 'SETQUOTA "" (STORAGE)',
                              'SETQUOTA "" (STORAGE x)', 'SETQUOTA "" (STORAGE -1)',
                              'SETQUOTA "" (STORAGE 1 STORAGE 2)',
                              'SETQUOTA "" (STORAGE 99999999999999999999)']):
        _, t = c.command(f"X{i}", text)
        assert t.startswith(f"X{i} BAD"), (text, t)
    c.close()
    # not in the authenticated state
    c = server.raw()
    _, t = c.command("N", 'GETQUOTA ""')
    assert t.startswith("N BAD") or t.startswith("N NO")
    c.close()


def test_setquota_needs_admin(server_factory):
    srv = server_factory(extra_config=ADMIN_CONFIG, users=USERS)
    c = srv.raw()
    c.login("alice", "secret-pw")
    _, t = c.command("A", 'SETQUOTA "" (STORAGE 100)')
    assert t.startswith("A NO [NOPERM]")
    c.close()


def test_setquota_by_admin_emits_quotachange(server_factory):
    srv = server_factory(extra_config=ADMIN_CONFIG, users=USERS)
    watcher = srv.raw()
    watcher.login("bob", "bob-pw")
    c = srv.raw()
    c.login("root", "root-pw")
    untagged = ok(c, "A", 'SETQUOTA "#user/bob" (STORAGE 512 MESSAGE 20)')
    assert untagged == ['* QUOTA #user/bob (STORAGE 0 512 MESSAGE 0 20)']
    # bob sees the new limits
    assert ok(watcher, "B", 'GETQUOTA ""') == ['* QUOTA "" (STORAGE 0 512 MESSAGE 0 20)']
    evs = wait_outbox(srv, ("QuotaChange",), 1)
    assert evs[-1]["user"] == "bob" and evs[-1]["diskQuota"] == 512
    assert evs[-1]["maxMessages"] == 20 and evs[-1]["service"] == "imap"
    assert evs[-1]["admin"] == "root"
    # RFC 9208 §4.1.3: resources left out lose their limit
    assert ok(c, "C", 'SETQUOTA "#user/bob" (MESSAGE 5)') == ['* QUOTA #user/bob (MESSAGE 0 5)']
    r = srv.cli("quota", "get", "bob")
    assert "unlimited" in r.stdout.splitlines()[1]
    # unsupported resources and a limit of 0 are refused
    _, t = c.command("D", 'SETQUOTA "#user/bob" (ANNOTATION-STORAGE 10)')
    assert t.startswith("D NO [CANNOT]")
    _, t = c.command("E", 'SETQUOTA "#user/bob" (STORAGE 0)')
    assert t.startswith("E NO [CANNOT]")
    _, t = c.command("F", 'SETQUOTA "#user/nobody" (STORAGE 5)')
    assert t.startswith("F NO [NONEXISTENT]")
    # enforcement follows: bob may hold 5 messages
    for i in range(5):
        append_message(watcher, "INBOX", simple_message(), tag=f"P{i}")
    watcher.send("X APPEND INBOX {5}\r\n")
    line = watcher.readline()
    if line.startswith("+"):
        watcher.send("hello\r\n")
        _, line = watcher.until_tagged("X")
    assert "OVERQUOTA" in line
    c.close()
    watcher.close()


def test_status_deleted(client):
    append_message(client, "INBOX", simple_message(body="a" * 100 + "\r\n"))
    append_message(client, "INBOX", simple_message(body="b" * 200 + "\r\n"), flags="\\Deleted")
    untagged = ok(client, "A", "STATUS INBOX (MESSAGES DELETED DELETED-STORAGE)")
    ok(client, "S", "SELECT INBOX")
    fetch = ok(client, "F", "FETCH 2 RFC822.SIZE")
    size = int(fetch[0].split("RFC822.SIZE ")[1].rstrip(")"))
    assert untagged == [f"* STATUS INBOX (MESSAGES 2 DELETED 1 DELETED-STORAGE {size})"]
    # LIST-STATUS knows them too
    untagged = ok(client, "L", 'LIST "" "INBOX" RETURN (STATUS (DELETED))')
    assert "* STATUS INBOX (DELETED 1)" in untagged


def test_admin_acts_as_user(server_factory):
    srv = server_factory(extra_config=ADMIN_CONFIG, users=USERS)
    c = srv.raw()
    _, t = c.command("A", "AUTHENTICATE PLAIN " + plain("alice", "root", "root-pw"))
    assert t.startswith("A OK"), t
    # the session is alice's
    untagged = ok(c, "B", 'CREATE "made-by-admin"')
    r = ok(c, "C", 'LIST "" "made-by-admin"')
    assert len(r) == 1
    ev = [e for e in wait_outbox(srv, ("Login",), 1) if e["user"] == "alice"]
    assert ev and ev[-1]["admin"] == "root"
    # the admin acting as alice has alice's rights: no SETQUOTA
    _, t = c.command("D", 'SETQUOTA "" (STORAGE 100)')
    assert t.startswith("D NO [NOPERM]")
    c.close()
    c = srv.raw()
    c.login("alice", "secret-pw")
    assert len(ok(c, "E", 'LIST "" "made-by-admin"')) == 1
    c.close()


def test_non_admin_cannot_act_as_other(server_factory):
    srv = server_factory(extra_config=ADMIN_CONFIG, users=USERS)
    c = srv.raw()
    _, t = c.command("A", "AUTHENTICATE PLAIN " + plain("bob", "alice", "secret-pw"))
    assert t.startswith("A NO [AUTHORIZATIONFAILED]"), t
    # a wrong password stays an authentication failure
    _, t = c.command("B", "AUTHENTICATE PLAIN " + plain("alice", "root", "wrong"))
    assert t.startswith("B NO [AUTHENTICATIONFAILED]"), t
    # an admin acting as a user that does not exist
    _, t = c.command("C", "AUTHENTICATE PLAIN " + plain("nobody", "root", "root-pw"))
    assert t.startswith("C NO [AUTHORIZATIONFAILED]"), t
    # authzid equal to the user is plain login
    _, t = c.command("D", "AUTHENTICATE PLAIN " + plain("bob", "bob", "bob-pw"))
    assert t.startswith("D OK"), t
    c.close()
    assert not [e for e in outbox(srv, ("Login",)) if e.get("admin")]



def test_getquotaroot_on_shared_mailbox(server):
    """RFC 9208 §6 with ACL: GETQUOTAROOT needs 'r' on the mailbox; another
    user's mailbox lives under that user's root ("#user/<owner>"), which
    the reader may then GETQUOTA while the right lasts."""
    server.cli("quota", "set", "alice", "--messages", "50")
    alice = server.raw()
    alice.login("alice", "secret-pw")
    bob = server.raw()
    bob.login("bob", "bob-pw")
    ok(alice, "A1", "CREATE Shared")
    append_message(alice, "Shared", simple_message())
    ok(alice, "A2", "SETACL Shared bob l")
    _, t = bob.command("B1", 'GETQUOTAROOT "Other Users/alice/Shared"')
    assert t.startswith("B1 NO [NOPERM]"), t
    _, t = bob.command("B2", 'GETQUOTA "#user/alice"')
    assert t.startswith("B2 NO [NONEXISTENT]"), t
    ok(alice, "A3", "SETACL Shared bob lr")
    assert ok(bob, "B3", 'GETQUOTAROOT "Other Users/alice/Shared"') == [
        '* QUOTAROOT "Other Users/alice/Shared" #user/alice',
        "* QUOTA #user/alice (MESSAGE 1 50)"]
    assert ok(bob, "B4", 'GETQUOTA "#user/alice"') == ["* QUOTA #user/alice (MESSAGE 1 50)"]
    # bob's own root is still his own
    assert ok(bob, "B5", "GETQUOTAROOT INBOX")[0] == '* QUOTAROOT INBOX ""'
    _, t = bob.command("B6", 'SETQUOTA "#user/alice" (MESSAGE 10)')
    assert t.startswith("B6 NO [NOPERM]"), t
    ok(alice, "A4", "DELETEACL Shared bob")
    _, t = bob.command("B7", 'GETQUOTAROOT "Other Users/alice/Shared"')
    assert t.startswith("B7 NO [NONEXISTENT]"), t
    _, t = bob.command("B8", 'GETQUOTA "#user/alice"')
    assert t.startswith("B8 NO [NONEXISTENT]"), t
    alice.close()
    bob.close()
