"""NOTIFY (RFC 5465): the grammar and its rules, every filter with the
events built so far, the selected mailbox (SELECTED vs SELECTED-DELAYED and
the MSN rules), the STATUS option, and changes made by other sessions, LMTP,
POP3 and the CLI reaching NOTIFY sessions at once."""
import socket
import time

import pytest

from conftest import TIMEOUT
from notify_util import (SUPPORTED, append, deliver, notify, notify_server, ok,
                         quiet, session, wait_for)

MSG_EVENTS = "(MessageNew MessageExpunge)"


@pytest.fixture
def nsrv(server_factory):
    return notify_server(server_factory)


# ---- grammar and rules ----

def test_capability_and_set_none(nsrv):
    c = session(nsrv)
    untagged = ok(c, "C1", "CAPABILITY")
    assert " NOTIFY" in untagged[0]
    notify(c, f"SET (personal {MSG_EVENTS})")
    notify(c, "NONE", tag="N2")
    notify(c, "set status (Selected (messagenew messageexpunge flagchange))", tag="N3")
    c.close()


BAD_CASES = [
    ("", "no arguments"),
    ("FOO", "neither SET nor NONE"),
    ("NONE extra", "NONE with arguments"),
    ("SET", "no event group"),
    ("SET STATUS", "no event group after STATUS"),
    ("SET personal (MessageNew MessageExpunge)", "group not parenthesised"),
    ("SET (bogus (MessageNew MessageExpunge))", "unknown filter"),
    ("SET (personal)", "no events"),
    ("SET (personal ())", "empty event list"),
    ("SET (subtree (MessageNew MessageExpunge))", "subtree without mailboxes"),
    ("SET (mailboxes () (MessageNew MessageExpunge))", "empty mailbox list"),
    ("SET (personal (MessageNew))", "MessageNew without MessageExpunge"),
    ("SET (personal (MessageExpunge))", "MessageExpunge without MessageNew"),
    ("SET (personal (FlagChange))", "FlagChange alone"),
    ("SET (selected (MessageNew MessageExpunge MailboxName))", "mailbox event for selected"),
    ("SET (selected-delayed (SubscriptionChange))", "mailbox event for selected-delayed"),
    ("SET (selected NONE) (selected-delayed NONE)", "two selected filters"),
    ("SET (personal (MessageNew (UID) MessageExpunge))", "fetch-att outside selected"),
    ("SET (selected (MessageNew (NOSUCHATT) MessageExpunge))", "bad fetch-att"),
    ("SET (selected (MessageNew () MessageExpunge))", "empty fetch-att"),
    ('SET (personal ("MessageNew" MessageExpunge))', "quoted event"),
]


def test_bad_syntax(nsrv):
    c = session(nsrv)
    for i, (args, why) in enumerate(BAD_CASES):
        if i and i % 15 == 0:
            # max_bad_commands: a fresh session now and then
            c.close()
            c = session(nsrv)
        _, tagged = c.command(f"B{i}", f"NOTIFY {args}".rstrip())
        assert tagged.startswith(f"B{i} BAD"), (why, tagged)
    # the session still works and has no NOTIFY state
    ok(c, "Z1", "NOOP")
    c.close()


def test_unsupported_event_badevent(nsrv):
    c = session(nsrv)
    for i, events in enumerate(["(Frobnicate)",
                                "(MessageNew MessageExpunge Frobnicate)",
                                "(MailboxMetadataChange Frobnicate)",
                                "(X-Vendor-Event)"]):
        _, tagged = c.command(f"E{i}", f"NOTIFY SET (personal {events})")
        # RFC 5465 §3.1: NO (not BAD) with every supported event listed
        assert tagged.startswith(f"E{i} NO [BADEVENT ("), tagged
        assert f"[BADEVENT ({SUPPORTED})]" in tagged, tagged
    c.close()


def test_too_many_mailboxes(server_factory):
    srv = notify_server(server_factory, extra="notify_max_mailboxes = 3")
    c = session(srv)
    notify(c, f"SET (mailboxes (a b c) {MSG_EVENTS})")
    _, tagged = c.command("T1", f"NOTIFY SET (mailboxes (a b) {MSG_EVENTS}) "
                                f"(subtree (c d) {MSG_EVENTS})")
    assert tagged.startswith("T1 NO [NOTIFICATIONOVERFLOW]"), tagged
    # a huge list is refused without work
    names = " ".join(f"m{i}" for i in range(5000))
    _, tagged = c.command("T2", f"NOTIFY SET (mailboxes ({names}) {MSG_EVENTS})")
    assert tagged.startswith("T2 NO [NOTIFICATIONOVERFLOW]"), tagged
    c.close()


def test_notify_before_login_refused(nsrv):
    c = nsrv.raw()
    _, tagged = c.command("A1", f"NOTIFY SET (personal {MSG_EVENTS})")
    assert tagged.startswith("A1 BAD"), tagged
    c.close()


# ---- message events on other mailboxes (STATUS) ----

def test_personal_new_and_expunge_status(nsrv):
    a, b = session(nsrv), session(nsrv)
    notify(a, f"SET (personal {MSG_EVENTS})")
    append(b, "Drafts")
    line, _ = wait_for(a, r"^\* STATUS")
    assert line == "* STATUS Drafts (UIDNEXT 2 MESSAGES 1)", line
    ok(b, "S1", "SELECT Drafts")
    ok(b, "S2", "STORE 1 +FLAGS (\\Deleted)")
    ok(b, "S3", "EXPUNGE")
    line, _ = wait_for(a, r"^\* STATUS")
    assert line == "* STATUS Drafts (UIDNEXT 2 MESSAGES 0)", line
    quiet(a)
    a.close(), b.close()


def test_own_change_not_notified(nsrv):
    a = session(nsrv)
    notify(a, f"SET (personal {MSG_EVENTS} )".replace(" )", ")"))
    append(a, "Drafts")
    quiet(a)
    a.close()


def test_mailboxes_filter(nsrv):
    a, b = session(nsrv), session(nsrv)
    notify(a, f"SET (mailboxes Drafts {MSG_EVENTS})")
    append(b, "Sent")
    quiet(a)
    append(b, "Drafts")
    line, _ = wait_for(a, r"^\* STATUS")
    assert line.startswith("* STATUS Drafts (UIDNEXT 2 MESSAGES 1"), line
    a.close(), b.close()


def test_mailboxes_no_wildcards(nsrv):
    """§6.6: no wildcard expansion: "Dr*" names no mailbox."""
    a, b = session(nsrv), session(nsrv)
    notify(a, f'SET (mailboxes ("Dr*" "Dr%" "Nonexistent") {MSG_EVENTS})')
    append(b, "Drafts")
    quiet(a)
    a.close(), b.close()


def test_subtree_filter(nsrv):
    a, b = session(nsrv), session(nsrv)
    ok(b, "C1", "CREATE Lists/Lemonade")
    ok(b, "C2", "CREATE ListsX")
    notify(a, f"SET (subtree (Lists) {MSG_EVENTS})")
    append(b, "Lists/Lemonade")
    line, _ = wait_for(a, r"^\* STATUS")
    assert line.startswith("* STATUS Lists/Lemonade (UIDNEXT 2 MESSAGES 1"), line
    append(b, "Lists")
    line, _ = wait_for(a, r"^\* STATUS")
    assert line.startswith("* STATUS Lists ("), line
    append(b, "ListsX")
    append(b, "INBOX")
    quiet(a)
    a.close(), b.close()


def test_subscribed_filter_reevaluated(nsrv):
    a, b = session(nsrv), session(nsrv)
    ok(b, "U1", "SUBSCRIBE Drafts")
    notify(a, f"SET (subscribed {MSG_EVENTS})")
    append(b, "Sent")
    quiet(a)
    append(b, "Drafts")
    line, _ = wait_for(a, r"^\* STATUS")
    assert line.startswith("* STATUS Drafts "), line
    # §6.4: the subscription list changes, the filter follows
    ok(b, "U2", "SUBSCRIBE Sent")
    append(b, "Sent")
    line, _ = wait_for(a, r"^\* STATUS")
    assert line.startswith("* STATUS Sent "), line
    ok(b, "U3", "UNSUBSCRIBE Drafts")
    append(b, "Drafts")
    quiet(a)
    a.close(), b.close()


def test_inboxes_computed(nsrv):
    a, b = session(nsrv), session(nsrv)
    ok(b, "C1", "CREATE Work")
    notify(a, f"SET (inboxes {MSG_EVENTS})")
    # INBOX is one; other mailboxes are not until mail is delivered there
    append(b, "INBOX")
    line, _ = wait_for(a, r"^\* STATUS")
    assert line.startswith("* STATUS INBOX "), line
    append(b, "Work")
    quiet(a)
    deliver(nsrv, "alice+Work@example.org")
    line, _ = wait_for(a, r"^\* STATUS")
    assert line.startswith("* STATUS Work (UIDNEXT 3 MESSAGES 2"), line
    # from now on Work is one of the inboxes, whoever adds to it
    append(b, "Work")
    line, _ = wait_for(a, r"^\* STATUS")
    assert line.startswith("* STATUS Work (UIDNEXT 4 MESSAGES 3"), line
    append(b, "Drafts")
    quiet(a)
    a.close(), b.close()


def test_flagchange_status_unseen(nsrv):
    a, b = session(nsrv), session(nsrv)
    append(b, "Drafts")
    append(b, "Drafts", tag="AQ")
    notify(a, "SET (personal (MessageNew MessageExpunge FlagChange))")
    ok(b, "S1", "SELECT Drafts")
    ok(b, "S2", "STORE 1 +FLAGS.SILENT (\\Seen)")
    line, _ = wait_for(a, r"^\* STATUS")
    assert line.startswith("* STATUS Drafts (UIDVALIDITY ") and line.endswith(" UNSEEN 1)"), line
    # §5.1: without CONDSTORE a change STATUS cannot show is not sent
    ok(b, "S3", "STORE 2 +FLAGS.SILENT (\\Flagged)")
    quiet(a)
    a.close(), b.close()


def test_flagchange_not_asked(nsrv):
    a, b = session(nsrv), session(nsrv)
    append(b, "Drafts")
    notify(a, f"SET (personal {MSG_EVENTS})")
    ok(b, "S1", "SELECT Drafts")
    ok(b, "S2", "STORE 1 +FLAGS.SILENT (\\Seen)")
    quiet(a)
    a.close(), b.close()


def test_events_none_group(nsrv):
    a, b = session(nsrv), session(nsrv)
    notify(a, f"SET (mailboxes Drafts NONE) (mailboxes Sent {MSG_EVENTS})")
    append(b, "Drafts")
    quiet(a)
    append(b, "Sent")
    wait_for(a, r"^\* STATUS Sent ")
    a.close(), b.close()


def test_groups_add_up(nsrv):
    """§6: several groups may apply to one mailbox; their events add up."""
    a, b = session(nsrv), session(nsrv)
    notify(a, f"SET (mailboxes INBOX {MSG_EVENTS}) (personal (SubscriptionChange))")
    append(b, "INBOX")
    wait_for(a, r"^\* STATUS INBOX ")
    ok(b, "U1", "SUBSCRIBE INBOX")
    line, _ = wait_for(a, r"^\* LIST")
    assert line == '* LIST (\\Subscribed) "/" INBOX', line
    a.close(), b.close()


def test_other_users_changes_invisible(nsrv):
    a, bob = session(nsrv), session(nsrv, "bob", "bob-pw")
    notify(a, f"SET (personal {MSG_EVENTS} ) ".replace(" )", ")").strip())
    notify(a, f"SET (personal (MessageNew MessageExpunge MailboxName SubscriptionChange))", tag="N2")
    append(bob, "INBOX")
    ok(bob, "C1", "CREATE Secret")
    ok(bob, "U1", "SUBSCRIBE Secret")
    quiet(a, 0.5)
    a.close(), bob.close()


def test_notify_none_stops(nsrv):
    a, b = session(nsrv), session(nsrv)
    notify(a, f"SET (personal {MSG_EVENTS})")
    notify(a, "NONE", tag="N2")
    append(b, "Drafts")
    ok(b, "C1", "CREATE Foo")
    quiet(a)
    a.close(), b.close()


def test_set_replaces(nsrv):
    a, b = session(nsrv), session(nsrv)
    notify(a, f"SET (mailboxes Drafts {MSG_EVENTS})")
    notify(a, f"SET (mailboxes Sent {MSG_EVENTS})", tag="N2")
    append(b, "Drafts")
    quiet(a)
    append(b, "Sent")
    wait_for(a, r"^\* STATUS Sent ")
    a.close(), b.close()


def test_status_option(nsrv):
    a = session(nsrv)
    ok(a, "C1", "CREATE Lists/A")
    append(a, "Lists/A")
    untagged = notify(a, f"SET STATUS (subtree Lists {MSG_EVENTS}) (personal (MailboxName))")
    status = [l for l in untagged if l.startswith("* STATUS")]
    assert len(status) == 2, untagged
    assert any(l.startswith("* STATUS Lists/A (MESSAGES 1 UIDNEXT 2 UIDVALIDITY ") for l in status), status
    assert any(l.startswith("* STATUS Lists (MESSAGES 0 UIDNEXT 1 UIDVALIDITY ") for l in status), status
    # without STATUS, none
    untagged = notify(a, f"SET (subtree Lists {MSG_EVENTS})", tag="N2")
    assert not [l for l in untagged if l.startswith("* STATUS")], untagged
    # STATUS skips the selected mailbox (SELECTED rules it, §3.1)
    ok(a, "S1", "SELECT Lists/A")
    untagged = notify(a, f"SET STATUS (subtree Lists {MSG_EVENTS})", tag="N3")
    status = [l for l in untagged if l.startswith("* STATUS")]
    assert len(status) == 1 and status[0].startswith("* STATUS Lists ("), untagged
    a.close()


# ---- mailbox events (LIST) ----

def test_mailbox_name_create_rename_delete(nsrv):
    a, b = session(nsrv), session(nsrv)
    notify(a, "SET (personal (MailboxName))")
    ok(b, "C1", "CREATE Projects")
    line, _ = wait_for(a, r"^\* LIST")
    assert line == '* LIST () "/" Projects', line
    ok(b, "R1", "RENAME Projects Attic")
    line, _ = wait_for(a, r"^\* LIST")
    assert line == '* LIST () "/" Attic ("OLDNAME" (Projects))', line
    ok(b, "D1", "DELETE Attic")
    line, _ = wait_for(a, r"^\* LIST")
    assert line == '* LIST (\\NonExistent) "/" Attic', line
    # §5: not for the client's own change
    ok(a, "C2", "CREATE Mine")
    quiet(a)
    a.close(), b.close()


def test_mailbox_name_filtered_by_subtree(nsrv):
    a, b = session(nsrv), session(nsrv)
    notify(a, "SET (subtree Lists (MailboxName))")
    ok(b, "C1", "CREATE Other")
    quiet(a)
    ok(b, "C2", "CREATE Lists/New")
    # creating Lists/New creates its parent Lists first
    line, _ = wait_for(a, r"^\* LIST .*Lists/New")
    # a rename out of the subtree is still reported (the old name matched)
    ok(b, "R1", "RENAME Lists/New Elsewhere")
    line, _ = wait_for(a, r"^\* LIST")
    assert line == '* LIST () "/" Elsewhere ("OLDNAME" (Lists/New))', line
    a.close(), b.close()


def test_subscription_change(nsrv):
    a, b = session(nsrv), session(nsrv)
    notify(a, "SET (personal (SubscriptionChange))")
    ok(b, "U1", "SUBSCRIBE Drafts")
    line, _ = wait_for(a, r"^\* LIST")
    assert line == '* LIST (\\Subscribed) "/" Drafts', line
    ok(b, "U2", "UNSUBSCRIBE Drafts")
    line, _ = wait_for(a, r"^\* LIST")
    assert line == '* LIST () "/" Drafts', line
    ok(b, "U3", "SUBSCRIBE Ghost")
    line, _ = wait_for(a, r"^\* LIST")
    assert line == '* LIST (\\NonExistent \\Subscribed) "/" Ghost', line
    a.close(), b.close()


def test_mailbox_name_unicode(nsrv):
    a, b = session(nsrv), session(nsrv)
    notify(a, "SET (mailboxes &AMQ-pfel (MailboxName MessageNew MessageExpunge))")
    ok(b, "C1", "CREATE &AMQ-pfel")
    line, _ = wait_for(a, r"^\* LIST")
    assert line == '* LIST () "/" &AMQ-pfel', line
    append(b, "&AMQ-pfel")
    line, _ = wait_for(a, r"^\* STATUS")
    assert line.startswith("* STATUS &AMQ-pfel (UIDNEXT 2 MESSAGES 1"), line
    a.close(), b.close()


# ---- the selected mailbox ----

def test_selected_pushes_at_once(nsrv):
    a, b = session(nsrv), session(nsrv)
    ok(a, "S1", "SELECT INBOX")
    notify(a, "SET (selected (MessageNew (UID FLAGS) MessageExpunge FlagChange))")
    append(b, "INBOX", flags="\\Flagged")
    line, _ = wait_for(a, r"EXISTS")
    assert line == "* 1 EXISTS", line
    line, _ = wait_for(a, r"FETCH")
    assert line == "* 1 FETCH (UID 1 FLAGS (\\Flagged \\Recent))", line
    ok(b, "S1", "SELECT INBOX")
    ok(b, "S2", "STORE 1 +FLAGS.SILENT (\\Seen)")
    line, _ = wait_for(a, r"FETCH")
    # §5.1: UID and FLAGS
    assert line == "* 1 FETCH (UID 1 FLAGS (\\Seen \\Flagged \\Recent))", line
    ok(b, "S3", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    wait_for(a, r"FETCH")
    ok(b, "S4", "EXPUNGE")
    # SELECTED: EXPUNGE at once, no command needed (§6.1.1)
    line, _ = wait_for(a, r"EXPUNGE")
    assert line == "* 1 EXPUNGE", line
    quiet(a)
    a.close(), b.close()


def test_selected_fetch_att_with_body(nsrv):
    a, b = session(nsrv), session(nsrv)
    ok(a, "S1", "SELECT INBOX")
    notify(a, "SET (selected (MessageNew (UID BODY.PEEK[HEADER.FIELDS (Subject)]) MessageExpunge))")
    deliver(nsrv, subject="pushed")
    wait_for(a, r"^\* 1 EXISTS$")
    line, _ = wait_for(a, r"FETCH")
    assert line.startswith("* 1 FETCH (UID 1 BODY[HEADER.FIELDS (Subject)] {"), line
    assert "Subject: pushed" in line, line
    # the peek left the message unseen
    untagged = ok(a, "F1", "UID FETCH 1 FLAGS")
    assert "\\Seen" not in untagged[0], untagged
    a.close(), b.close()


def test_selected_delayed_holds_expunge(nsrv):
    a, b = session(nsrv), session(nsrv)
    append(b, "INBOX")
    append(b, "INBOX", tag="AQ")
    ok(a, "S1", "SELECT INBOX")
    notify(a, "SET (selected-delayed (MessageNew MessageExpunge FlagChange))")
    ok(b, "S1", "SELECT INBOX")
    ok(b, "S2", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    wait_for(a, r"FETCH")
    ok(b, "S3", "EXPUNGE")
    append(b, "INBOX", tag="AR")
    # new mail is announced at once, the expunge is not (§6.1.2)
    line, seen = wait_for(a, r"EXISTS")
    assert line == "* 3 EXISTS", line
    assert not [l for l in seen if "EXPUNGE" in l], seen
    wait_for(a, r"^\* 3 RECENT$")
    quiet(a)
    # MSN FETCH: no EXPUNGE during it (RFC 3501 §7.4.1)
    untagged, tagged = a.command("F1", "FETCH 1:3 (UID)")
    # RFC 2180 §4.1.2: the expunged message gives NO [EXPUNGEISSUED]
    assert tagged.startswith("F1 OK") or tagged.startswith("F1 NO [EXPUNGEISSUED]"), tagged
    assert not [l for l in untagged if "EXPUNGE" in l], untagged
    untagged = ok(a, "N2", "NOOP")
    assert "* 1 EXPUNGE" in untagged, untagged
    a.close(), b.close()


def test_selected_without_notify_unchanged(nsrv):
    """Without a SELECTED group, the selected mailbox keeps the RFC 3501
    command-end updates and gets no STATUS from the other groups (§3.1)."""
    a, b = session(nsrv), session(nsrv)
    ok(a, "S1", "SELECT INBOX")
    notify(a, f"SET (personal {MSG_EVENTS})")
    append(b, "INBOX")
    quiet(a)
    untagged = ok(a, "N2", "NOOP")
    assert "* 1 EXISTS" in untagged, untagged
    # other mailboxes still report
    append(b, "Drafts")
    wait_for(a, r"^\* STATUS Drafts ")
    a.close(), b.close()


def test_selected_follows_reselect(nsrv):
    a, b = session(nsrv), session(nsrv)
    notify(a, f"SET (selected {MSG_EVENTS}) (personal {MSG_EVENTS})")
    ok(a, "S1", "SELECT Drafts")
    append(b, "INBOX")
    wait_for(a, r"^\* STATUS INBOX ")
    append(b, "Drafts")
    wait_for(a, r"^\* 1 EXISTS$")
    ok(a, "S2", "SELECT INBOX")
    append(b, "Drafts", tag="AQ")
    wait_for(a, r"^\* STATUS Drafts \(UIDNEXT 3 MESSAGES 2")
    append(b, "INBOX", tag="AR")
    wait_for(a, r"^\* 2 EXISTS$")
    a.close(), b.close()


def test_notify_set_implies_noop(nsrv):
    a, b = session(nsrv), session(nsrv)
    ok(a, "S1", "SELECT INBOX")
    append(b, "INBOX")
    untagged = notify(a, "SET (personal (MailboxName))")
    assert "* 1 EXISTS" in untagged, untagged
    a.close(), b.close()


def test_idle_sends_the_same(nsrv):
    a, b = session(nsrv), session(nsrv)
    notify(a, f"SET (personal {MSG_EVENTS})")
    a.send("I1 IDLE\r\n")
    assert a.readline().startswith("+")
    append(b, "Drafts")
    wait_for(a, r"^\* STATUS Drafts ")
    a.send("DONE\r\n")
    _, tagged = a.until_tagged("I1")
    assert tagged.startswith("I1 OK")
    a.close(), b.close()


# ---- other change sources ----

def test_lmtp_pop3_cli_reach_notify(nsrv):
    from test_pop3 import RawPop
    a = session(nsrv)
    notify(a, f"SET (inboxes {MSG_EVENTS}) (personal (MailboxName))")
    deliver(nsrv, subject="one")
    line, _ = wait_for(a, r"^\* STATUS")
    assert line == "* STATUS INBOX (UIDNEXT 2 MESSAGES 1)", line
    p = RawPop(nsrv.pop3_port)
    p.login()
    assert p.cmd("DELE 1").startswith("+OK")
    assert p.cmd("QUIT").startswith("+OK")
    p.close()
    line, _ = wait_for(a, r"^\* STATUS")
    assert line == "* STATUS INBOX (UIDNEXT 2 MESSAGES 0)", line
    # another process: the CLI (found by the data_version poll)
    nsrv.cli("mailbox", "create", "alice", "FromCli")
    line, _ = wait_for(a, r"^\* LIST")
    assert line == '* LIST () "/" FromCli', line
    a.close()


def test_push_is_immediate(nsrv):
    a, b = session(nsrv), session(nsrv)
    notify(a, f"SET (personal {MSG_EVENTS})")
    lat = []
    for i in range(20):
        t0 = time.time()
        append(b, "Drafts", tag=f"A{i}")
        wait_for(a, r"^\* STATUS Drafts ")
        lat.append(time.time() - t0)
    lat.sort()
    assert lat[len(lat) // 2] < 0.05, lat
    a.close(), b.close()


# ---- overflow ----

def test_notification_overflow(server_factory):
    srv = notify_server(server_factory, extra="output_buffer_max = 65536")
    # a client that never reads, with a tiny receive buffer
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", srv.imap_port))
    s.settimeout(TIMEOUT)
    s.sendall(b'L LOGIN alice secret-pw\r\nN NOTIFY SET (selected (MessageNew (BODY.PEEK[]) MessageExpunge))\r\n')
    s.sendall(b"S SELECT INBOX\r\n")
    good = session(srv)
    notify(good, f"SET (mailboxes INBOX {MSG_EVENTS})")
    b = session(srv)
    time.sleep(0.2)
    big = "x" * 60000 + "\r\n"
    n = 60
    for i in range(n):
        append_big = f"Subject: big {i}\r\n\r\n{big}"
        from conftest import append_message
        assert append_message(b, "INBOX", append_big, tag=f"A{i}").startswith(f"A{i} OK")
        # the well-behaved session sees every change meanwhile
        line, _ = wait_for(good, r"^\* STATUS INBOX ")
        assert line == f"* STATUS INBOX (UIDNEXT {i + 2} MESSAGES {i + 1})", line
    # the slow one got NOTIFICATIONOVERFLOW or was cut off
    data = b""
    s.settimeout(2)
    try:
        while True:
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            data += chunk
            if b"NOTIFICATIONOVERFLOW" in data:
                break
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    assert b"* OK [NOTIFICATIONOVERFLOW]" in data or len(data) < n * 60000, len(data)
    # the server is fine
    ok(b, "Z1", "NOOP")
    good.close(), b.close()
