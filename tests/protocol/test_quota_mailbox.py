"""QUOTA MAILBOX resource (RFC 9208 §5.3) and QUOTA=RES-MAILBOX: the
configured default (quota_mailboxes), `tidings quota set USER --mailboxes N`
and `quota get`, SETQUOTA / GETQUOTA / GETQUOTAROOT with MAILBOX, CREATE
(and the RENAMEs that make new mailboxes) past the limit refused with
NO [OVERQUOTA], DELETE freeing a slot, and the QuotaChange / QuotaExceed /
QuotaWithin events (RFC 5423 §4.1) with vnd.tidings.maxMailboxes and
vnd.tidings.mailboxes.

A new user has 6 mailboxes: INBOX and the 5 default ones.
"""
from conftest import append_message, simple_message
from test_quota import outbox, quota_get

ADMIN_CONFIG = "admins = root\n"
USERS = (("alice", "secret-pw"), ("bob", "bob-pw"), ("root", "root-pw"))
DEFAULTS = 6


def ok(c, tag, text):
    untagged, tagged = c.command(tag, text)
    assert tagged.startswith(tag + " OK"), (text, tagged)
    return untagged


def refused(c, tag, text, code="OVERQUOTA"):
    _, tagged = c.command(tag, text)
    assert tagged.startswith(f"{tag} NO [{code}]"), (text, tagged)


def names(c, tag="L"):
    return {line.rsplit(" ", 1)[1].strip('"') for line in ok(c, tag, 'LIST "" "*"')}


def quota_events(srv, after=0):
    return [(t, ev) for _, t, ev in outbox(srv, after) if t.startswith("Quota")]


def last_seq(srv):
    rows = outbox(srv)
    return rows[-1][0] if rows else 0


def test_capability_advertised(server):
    c = server.raw()
    c.login("alice", "secret-pw")
    assert "QUOTA=RES-MAILBOX" in ok(c, "B", "CAPABILITY")[0].split()
    c.close()


def test_create_up_to_limit_then_overquota(server_factory):
    srv = server_factory(extra_config=f"quota_mailboxes = {DEFAULTS + 2}\n")
    c = srv.raw()
    c.login("alice", "secret-pw")
    assert ok(c, "Q", 'GETQUOTA ""') == [f'* QUOTA "" (MAILBOX {DEFAULTS} {DEFAULTS + 2})']
    ok(c, "A", "CREATE one")
    ok(c, "B", "CREATE two")
    refused(c, "C", "CREATE three")
    assert "three" not in names(c)
    assert ok(c, "Q2", 'GETQUOTA ""') == [f'* QUOTA "" (MAILBOX {DEFAULTS + 2} {DEFAULTS + 2})']
    # DELETE frees a slot
    ok(c, "D", "DELETE one")
    ok(c, "E", "CREATE three")
    refused(c, "F", "CREATE four")
    # a plain rename keeps the count
    ok(c, "G", "RENAME three four")
    assert {"four", "two"} <= names(c) and "three" not in names(c)
    # limits for the others: bob has his own count
    b = srv.raw()
    b.login("bob", "bob-pw")
    ok(b, "A", "CREATE bobs")
    b.close()
    c.close()


def test_create_counts_new_parents(server_factory):
    srv = server_factory(extra_config=f"quota_mailboxes = {DEFAULTS + 2}\n")
    c = srv.raw()
    c.login("alice", "secret-pw")
    # a/b/c needs a and a/b too (RFC 3501 §6.3.3): 3 > 2 free
    refused(c, "A", "CREATE a/b/c")
    assert not {"a", "a/b", "a/b/c"} & names(c)
    ok(c, "B", "CREATE a/b")               # a and a/b: exactly 2
    refused(c, "C", "CREATE a/b/c")
    # RENAME into a new parent creates it; RENAME INBOX creates a mailbox
    refused(c, "D", "RENAME a/b x/b")      # x is new
    refused(c, "E", "RENAME INBOX old-inbox")
    ok(c, "F", "RENAME a/b a2")            # nothing new
    ok(c, "G", "DELETE a2")                # one free
    refused(c, "H", "RENAME a x/y/z")      # x and x/y: two new
    ok(c, "I", "RENAME a x/z")
    ok(c, "J", "DELETE x/z")
    ok(c, "K", "RENAME INBOX old-inbox")
    assert {"x", "old-inbox", "INBOX"} <= names(c) and "a" not in names(c)
    c.close()


def test_noselect_names_do_not_count(server_factory):
    srv = server_factory(extra_config=f"quota_mailboxes = {DEFAULTS + 2}\n")
    c = srv.raw()
    c.login("alice", "secret-pw")
    ok(c, "A", "CREATE p/q")
    assert ok(c, "Q", 'GETQUOTA ""')[0].endswith(f"(MAILBOX {DEFAULTS + 2} {DEFAULTS + 2})")
    # p stays as a \Noselect name for its child: no longer a mailbox
    ok(c, "B", "DELETE p")
    assert ok(c, "Q2", 'GETQUOTA ""')[0].endswith(f"(MAILBOX {DEFAULTS + 1} {DEFAULTS + 2})")
    ok(c, "C", "CREATE r")
    # reviving p makes it a mailbox again, which needs a free slot
    refused(c, "D", "CREATE p")
    ok(c, "E", "DELETE r")
    ok(c, "F", "CREATE p")
    c.close()


def test_over_limit_still_appends(server):
    """A limit lowered under the usage blocks CREATE only (RFC 9208 §4.3.1:
    OVERQUOTA on APPEND is for what the message adds)."""
    server.cli("quota", "set", "alice", "--mailboxes", "3")
    c = server.raw()
    c.login("alice", "secret-pw")
    append_message(c, "INBOX", simple_message())
    refused(c, "A", "CREATE more")
    ok(c, "S", "SELECT INBOX")
    ok(c, "B", "COPY 1 Archive")
    assert ok(c, "Q", 'GETQUOTA ""') == [f'* QUOTA "" (MAILBOX {DEFAULTS} 3)']
    c.close()


def test_setquota_and_getquota_mailbox(server_factory):
    srv = server_factory(extra_config=ADMIN_CONFIG, users=USERS)
    bob = srv.raw()
    bob.login("bob", "bob-pw")
    refused(bob, "A", 'SETQUOTA "" (MAILBOX 10)', "NOPERM")
    root = srv.raw()
    root.login("root", "root-pw")
    assert ok(root, "B", f'SETQUOTA "#user/bob" (MAILBOX {DEFAULTS + 1})') == \
        [f'* QUOTA #user/bob (MAILBOX {DEFAULTS} {DEFAULTS + 1})']
    assert ok(bob, "C", "GETQUOTAROOT INBOX") == \
        ['* QUOTAROOT INBOX ""', f'* QUOTA "" (MAILBOX {DEFAULTS} {DEFAULTS + 1})']
    ok(bob, "D", "CREATE new")
    refused(bob, "E", "CREATE newer")
    # all three resources in one SETQUOTA, in any order and case
    assert ok(root, "F", 'SETQUOTA "#user/bob" (mailbox 20 STORAGE 100 MESSAGE 5)') == \
        [f'* QUOTA #user/bob (STORAGE 0 100 MESSAGE 0 5 MAILBOX {DEFAULTS + 1} 20)']
    assert quota_get(srv, "bob")["mailboxes"] == (DEFAULTS + 1, 20, "own")
    # RFC 9208 §4.1.3: a resource left out loses its limit
    assert ok(root, "G", 'SETQUOTA "#user/bob" (STORAGE 100)') == \
        ['* QUOTA #user/bob (STORAGE 0 100)']
    ok(bob, "H", "CREATE newer")
    # the limit is in index.db: it survives a restart
    ok(root, "I", 'SETQUOTA "#user/bob" (MAILBOX 9)')
    bob.close()
    root.close()
    srv.stop()
    srv.start()
    bob = srv.raw()
    bob.login("bob", "bob-pw")
    assert ok(bob, "J", 'GETQUOTA ""') == [f'* QUOTA "" (MAILBOX {DEFAULTS + 2} 9)']
    bob.close()


def test_setquota_mailbox_bad_input(server_factory):
    srv = server_factory(extra_config=ADMIN_CONFIG, users=USERS)
    c = srv.raw()
    c.login("root", "root-pw")
    for i, text in enumerate(['SETQUOTA "" (MAILBOX -1)', 'SETQUOTA "" (MAILBOX x)',
                              'SETQUOTA "" (MAILBOX)', 'SETQUOTA "" (MAILBOX 1 MAILBOX 2)',
                              'SETQUOTA "" (MAILBOX 1.5)', 'SETQUOTA "" MAILBOX 3',
                              'SETQUOTA "" (MAILBOX 99999999999999999999)']):
        _, t = c.command(f"X{i}", text)
        assert t.startswith(f"X{i} BAD"), (text, t)
    # a limit of 0 ("any usage is prohibited", §3.1) cannot be kept: INBOX
    # always exists; unknown resources are refused (§4.1.3 "MUST fail")
    refused(c, "Y", 'SETQUOTA "" (MAILBOX 0)', "CANNOT")
    refused(c, "Z", 'SETQUOTA "" (MAILBOX 5 ANNOTATION-STORAGE 3)', "CANNOT")
    # nothing changed
    assert ok(c, "Q", 'GETQUOTA ""') == ['* QUOTA "" ()']
    c.close()


def test_cli_set_get(server_factory):
    srv = server_factory(extra_config="quota_mailboxes = 40\n")
    assert quota_get(srv)["mailboxes"] == (DEFAULTS, 40, "default")
    srv.cli("quota", "set", "alice", "--mailboxes", "10")
    q = quota_get(srv)
    assert q["mailboxes"] == (DEFAULTS, 10, "own")
    assert q["storage"][2] == q["messages"][2] == "default"
    # the other limits are kept, and --mailboxes=N works too
    srv.cli("quota", "set", "alice", "--storage", "1M", "--mailboxes=7")
    q = quota_get(srv)
    assert q["mailboxes"] == (DEFAULTS, 7, "own") and q["storage"][1] == 1024 * 1024
    srv.cli("quota", "set", "--messages", "3", "alice")
    assert quota_get(srv)["mailboxes"] == (DEFAULTS, 7, "own")
    srv.cli("quota", "set", "alice", "--mailboxes", "0")
    assert quota_get(srv)["mailboxes"] == (DEFAULTS, 0, "own")
    srv.cli("quota", "set", "alice", "--mailboxes", "default")
    assert quota_get(srv)["mailboxes"] == (DEFAULTS, 40, "default")
    for bad in (["--mailboxes", "-1"], ["--mailboxes", "x"], ["--mailboxes"],
                ["--mailboxes", "5", "--mailboxes", "6"],
                ["--mailboxes", "99999999999999999999"], ["--mailbox", "5"]):
        r = srv.cli("quota", "set", "alice", *bad, check=False)
        assert r.returncode == 2, (bad, r.stdout, r.stderr)
    assert srv.cli("quota", "set", "nobody", "--mailboxes", "5", check=False).returncode == 1
    assert quota_get(srv)["mailboxes"] == (DEFAULTS, 40, "default")


def test_bad_config_value(server_factory):
    srv = server_factory(extra_config="quota_mailboxes = many\n", users=(), start=False)
    r = srv.cli("quota", "get", "alice", check=False)
    assert r.returncode != 0 and "quota_mailboxes" in r.stderr


def test_events(server_factory):
    srv = server_factory(extra_config=ADMIN_CONFIG, users=USERS)
    seq = last_seq(srv)
    srv.cli("quota", "set", "alice", "--mailboxes", str(DEFAULTS + 1))
    evs = quota_events(srv, seq)
    assert [t for t, _ in evs] == ["QuotaChange"]
    ev = evs[0][1]
    assert ev["user"] == "alice"
    assert ev["vnd.tidings.maxMailboxes"] == DEFAULTS + 1
    assert ev["vnd.tidings.mailboxes"] == DEFAULTS
    # setting the same limit again: no event
    seq = last_seq(srv)
    srv.cli("quota", "set", "alice", "--mailboxes", str(DEFAULTS + 1))
    assert quota_events(srv, seq) == []

    c = srv.raw()
    c.login("alice", "secret-pw")
    ok(c, "A", "CREATE one")
    assert quota_events(srv, seq) == []
    seq = last_seq(srv)
    refused(c, "B", "CREATE two")
    evs = quota_events(srv, seq)
    assert [t for t, _ in evs] == ["QuotaExceed"]
    ev = evs[0][1]
    assert ev["user"] == "alice" and "mailboxID" not in ev
    assert ev["vnd.tidings.mailboxes"] == DEFAULTS + 1
    assert ev["vnd.tidings.maxMailboxes"] == DEFAULTS + 1
    # the refused CREATE wrote nothing else (no MailboxCreate)
    assert [t for _, t, _ in outbox(srv, seq)] == ["QuotaExceed"]
    # DELETE brings the count back under the limit: QuotaWithin
    seq = last_seq(srv)
    ok(c, "C", "DELETE one")
    evs = quota_events(srv, seq)
    assert [t for t, _ in evs] == ["QuotaWithin"]
    assert evs[0][1]["vnd.tidings.mailboxes"] == DEFAULTS

    # a limit lowered under the usage, then raised by SETQUOTA: QuotaChange
    # and QuotaWithin, the admin named
    root = srv.raw()
    root.login("root", "root-pw")
    ok(root, "D", 'SETQUOTA "#user/alice" (MAILBOX 2)')
    seq = last_seq(srv)
    ok(root, "E", 'SETQUOTA "#user/alice" (MAILBOX 50)')
    evs = quota_events(srv, seq)
    assert [t for t, _ in evs] == ["QuotaChange", "QuotaWithin"]
    assert evs[0][1]["admin"] == "root" and evs[0][1]["vnd.tidings.maxMailboxes"] == 50
    # no mailbox limit: the vendor parameters are left out
    seq = last_seq(srv)
    ok(root, "F", 'SETQUOTA "#user/alice" ()')
    evs = quota_events(srv, seq)
    assert [t for t, _ in evs] == ["QuotaChange"]
    assert "vnd.tidings.maxMailboxes" not in evs[0][1]
    root.close()
    c.close()


def test_create_in_shared_mailbox_counts_for_owner(server):
    """A mailbox created under another user's shared mailbox (RFC 4314 'k')
    is the owner's, under the owner's quota root: the owner's MAILBOX limit
    refuses it."""
    bob = server.raw()
    bob.login("bob", "bob-pw")
    ok(bob, "A", "CREATE Work")
    ok(bob, "B", "SETACL Work alice lrk")
    server.cli("quota", "set", "bob", "--mailboxes", str(DEFAULTS + 2))
    alice = server.raw()
    alice.login("alice", "secret-pw")
    ok(alice, "C", 'CREATE "Other Users/bob/Work/Sub"')
    assert ok(bob, "Q", 'GETQUOTA ""') == [f'* QUOTA "" (MAILBOX {DEFAULTS + 2} {DEFAULTS + 2})']
    refused(alice, "D", 'CREATE "Other Users/bob/Work/Sub2"')
    # alice's own count is untouched
    ok(alice, "E", "CREATE Mine")
    assert ok(alice, "R", 'GETQUOTAROOT "Other Users/bob/Work"') == \
        ['* QUOTAROOT "Other Users/bob/Work" #user/bob',
         f'* QUOTA #user/bob (MAILBOX {DEFAULTS + 2} {DEFAULTS + 2})']
    alice.close()
    bob.close()
