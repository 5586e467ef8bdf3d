"""NOTIFY on the extensions it reports on: METADATA (MailboxMetadataChange,
ServerMetadataChange), ACL (shared mailboxes watched through MAILBOXES /
SUBTREE, rights revoked and granted mid-session, \\NoAccess, AdminMailbox),
QRESYNC (VANISHED for the selected mailbox), and the MSN rule for an
expunge that happens while a long non-UID FETCH runs (RFC 3501 §7.4.1)."""
import socket
import time

import pytest

from conftest import TIMEOUT, append_message
from notify_util import append, notify, notify_server, ok, quiet, session, wait_for

MSG_EVENTS = "(MessageNew MessageExpunge)"
USERS = (("alice", "secret-pw"), ("bob", "bob-pw"), ("root", "root-pw"))
SHARED = '"Other Users/alice/Shared"'


@pytest.fixture
def nsrv(server_factory):
    return notify_server(server_factory, extra="admins = root\n", users=USERS)


def bob(srv):
    return session(srv, "bob", "bob-pw")


# ---- METADATA (RFC 5465 §5.6, §5.7) ----

def test_mailbox_metadata_change(nsrv):
    a, b = session(nsrv), session(nsrv)
    ok(b, "C1", "CREATE Work")
    notify(a, "SET (personal (MailboxMetadataChange))")
    ok(b, "M1", 'SETMETADATA Work (/shared/comment "hello")')
    line, seen = wait_for(a, r"^\* METADATA")
    assert line == "* METADATA Work /shared/comment", line
    assert seen == [], seen
    # §5.6: a removed entry is always included
    ok(b, "M2", "SETMETADATA Work (/shared/comment NIL)")
    line, _ = wait_for(a, r"^\* METADATA")
    assert line == "* METADATA Work /shared/comment", line
    # an unchanged value is no change
    ok(b, "M3", "SETMETADATA Work (/shared/comment NIL)")
    # /private entries of one's own user count too
    ok(b, "M4", 'SETMETADATA INBOX (/private/comment "mine")')
    line, _ = wait_for(a, r"^\* METADATA")
    assert line == "* METADATA INBOX /private/comment", line
    quiet(a)
    # §5: not for a change the client made itself
    ok(a, "M5", 'SETMETADATA Work (/shared/comment "by a")')
    quiet(a)
    a.close(), b.close()


def test_mailbox_metadata_filtered(nsrv):
    a, b = session(nsrv), session(nsrv)
    ok(b, "C1", "CREATE Work")
    ok(b, "C2", "CREATE Other")
    notify(a, "SET (mailboxes Work (MailboxMetadataChange)) (personal (MailboxName))")
    ok(b, "M1", 'SETMETADATA Other (/shared/comment "x")')
    quiet(a)
    ok(b, "M2", 'SETMETADATA Work (/shared/comment "x")')
    line, _ = wait_for(a, r"^\* METADATA")
    assert line == "* METADATA Work /shared/comment", line
    # not asked for: nothing
    notify(a, f"SET (personal {MSG_EVENTS})", tag="N2")
    ok(b, "M3", 'SETMETADATA Work (/shared/comment "y")')
    quiet(a)
    a.close(), b.close()


def test_server_metadata_change(nsrv):
    a, a2 = session(nsrv), session(nsrv)
    b = bob(nsrv)
    root = session(nsrv, "root", "root-pw")
    notify(a, "SET (personal (ServerMetadataChange))")
    notify(b, "SET (personal (ServerMetadataChange))")
    # a /shared server entry concerns every user
    ok(root, "M1", 'SETMETADATA "" (/shared/comment "Server comment")')
    line, _ = wait_for(a, r"^\* METADATA")
    assert line == '* METADATA "" /shared/comment', line
    line, _ = wait_for(b, r"^\* METADATA")
    assert line == '* METADATA "" /shared/comment', line
    # a /private one only its user (any session of it)
    ok(a2, "M2", 'SETMETADATA "" (/private/vendor/tidings/x "alice only")')
    line, _ = wait_for(a, r"^\* METADATA")
    assert line == '* METADATA "" /private/vendor/tidings/x', line
    quiet(b)
    ok(a2, "M3", 'SETMETADATA "" (/private/vendor/tidings/x NIL)')
    line, _ = wait_for(a, r"^\* METADATA")
    assert line == '* METADATA "" /private/vendor/tidings/x', line
    # sessions that did not ask hear nothing
    quiet(a2)
    quiet(root)
    for c in (a, a2, b, root):
        c.close()


def test_metadata_events_not_in_selected_filter(nsrv):
    a = session(nsrv)
    for i, ev in enumerate(("MailboxMetadataChange", "ServerMetadataChange", "AdminMailbox")):
        _, tagged = a.command(f"B{i}", f"NOTIFY SET (selected ({ev}))")
        assert tagged.startswith(f"B{i} BAD"), tagged
    a.close()


# ---- shared mailboxes (RFC 4314) and §7 ----

def share(owner, rights, tag="S1", who="bob", mailbox="Shared"):
    ok(owner, tag, f"SETACL {mailbox} {who} {rights}")


def test_shared_mailbox_watched_rights_revoked_and_granted(nsrv):
    a = session(nsrv)
    ok(a, "C1", "CREATE Shared")
    share(a, "lr")
    b = bob(nsrv)
    notify(b, f"SET (mailboxes {SHARED} {MSG_EVENTS})")
    append(a, "Shared", tag="A1")
    line, _ = wait_for(b, r"^\* STATUS")
    assert line == f"* STATUS {SHARED} (UIDNEXT 2 MESSAGES 1)", line
    # rights revoked: monitoring stops silently
    ok(a, "D1", "DELETEACL Shared bob")
    append(a, "Shared", tag="A2")
    quiet(b)
    # 'l' without 'r' is not enough either
    share(a, "l", tag="S2")
    append(a, "Shared", tag="A3")
    quiet(b)
    # granted again: monitoring resumes, without a new NOTIFY
    share(a, "lrs", tag="S3")
    append(a, "Shared", tag="A4")
    line, _ = wait_for(b, r"^\* STATUS")
    assert line == f"* STATUS {SHARED} (UIDNEXT 5 MESSAGES 4)", line
    a.close(), b.close()


def test_shared_subtree_and_personal(nsrv):
    a = session(nsrv)
    ok(a, "C1", "CREATE Shared")
    ok(a, "C2", "CREATE Private")
    share(a, "lr")
    b = bob(nsrv)
    # personal and inboxes cover only bob's own namespace
    notify(b, f"SET (personal {MSG_EVENTS}) (inboxes {MSG_EVENTS})")
    append(a, "Shared", tag="A1")
    append(a, "INBOX", tag="A2")
    quiet(b)
    # a subtree of alice's tree, or of the whole namespace
    for i, root in enumerate(('"Other Users/alice"', '"Other Users"')):
        notify(b, f"SET (subtree {root} {MSG_EVENTS})", tag=f"N{i}")
        append(a, "Private", tag=f"P{i}")      # not shared with bob
        append(a, "Shared", tag=f"Q{i}")
        line, seen = wait_for(b, r"^\* STATUS")
        assert line.startswith(f"* STATUS {SHARED} (UIDNEXT "), line
        assert seen == [], seen
    a.close(), b.close()


def test_shared_status_option_and_flags(nsrv):
    a = session(nsrv)
    ok(a, "C1", "CREATE Shared")
    append(a, "Shared", tag="A1")
    share(a, "lrs")
    b = bob(nsrv)
    untagged = notify(b, f"SET STATUS (mailboxes {SHARED} (MessageNew MessageExpunge FlagChange))")
    assert len(untagged) == 1 and untagged[0].startswith(
        f"* STATUS {SHARED} (MESSAGES 1 UIDNEXT 2 UIDVALIDITY "), untagged
    ok(a, "S2", "SELECT Shared")
    ok(a, "S3", "STORE 1 +FLAGS.SILENT (\\Seen)")
    line, _ = wait_for(b, r"^\* STATUS")
    assert line.startswith(f"* STATUS {SHARED} (UIDVALIDITY ") and line.endswith(" UNSEEN 0)"), line
    a.close(), b.close()


def test_noaccess_and_unknown_names(nsrv):
    """§3.1: a name that does not exist or cannot be listed is ignored; one
    the user can LIST but not read gets LIST (\\NoAccess); NOTIFY is OK."""
    a = session(nsrv)
    ok(a, "C1", "CREATE Shared")
    ok(a, "C2", "CREATE Hidden")
    share(a, "l")
    b = bob(nsrv)
    untagged = notify(b, f'SET (mailboxes ({SHARED} "Other Users/alice/Hidden" '
                         f'"Other Users/nobody/x" NoSuchBox) {MSG_EVENTS})')
    assert untagged == [f'* LIST (\\NoAccess) "/" {SHARED}'], untagged
    append(a, "Hidden", tag="A1")
    append(a, "Shared", tag="A2")
    quiet(b)
    a.close(), b.close()


def test_selected_shared_mailbox_pushes(nsrv):
    a = session(nsrv)
    ok(a, "C1", "CREATE Shared")
    share(a, "lr")
    b = bob(nsrv)
    ok(b, "S1", f"SELECT {SHARED}")
    notify(b, f"SET (selected {MSG_EVENTS})")
    append(a, "Shared", tag="A1")
    line, _ = wait_for(b, r"^\* \d+ EXISTS")
    assert line == "* 1 EXISTS", line
    a.close(), b.close()


# ---- AdminMailbox (draft -07 §5.9) ----

def test_admin_mailbox_owner(nsrv):
    a, a2 = session(nsrv), session(nsrv)
    ok(a2, "C1", "CREATE Shared")
    notify(a, "SET (personal (AdminMailbox))")
    share(a2, "lr")
    line, seen = wait_for(a, r"^\* ACL")
    assert line == "* ACL Shared alice lrswipkxteancd bob lr", line
    assert seen == [], seen
    ok(a2, "D1", "DELETEACL Shared bob")
    line, _ = wait_for(a, r"^\* ACL")
    assert line == "* ACL Shared alice lrswipkxteancd", line
    # not for the client's own change
    share(a, "lr", tag="S2")
    quiet(a)
    a.close(), a2.close()


def test_admin_mailbox_needs_admin_right(nsrv):
    a = session(nsrv)
    ok(a, "C1", "CREATE Shared")
    share(a, "lr")
    b = bob(nsrv)
    notify(b, f"SET (mailboxes {SHARED} (AdminMailbox))")
    # bob lacks 'a': he hears nothing, not even of his own rights
    ok(a, "S2", "SETACL Shared anyone l")
    quiet(b)
    # with 'a' he sees the new ACL, as GETACL would show it
    share(a, "lra", tag="S3")
    line, _ = wait_for(b, r"^\* ACL")
    assert line == f"* ACL {SHARED} alice lrswipkxteancd anyone l bob lra", line
    untagged = ok(b, "G1", f"GETACL {SHARED}")
    assert untagged == [line], untagged
    # losing it: nothing (the draft's MAY is not taken)
    share(a, "lr", tag="S4")
    quiet(b)
    a.close(), b.close()


def test_admin_mailbox_not_asked(nsrv):
    a, a2 = session(nsrv), session(nsrv)
    ok(a2, "C1", "CREATE Shared")
    notify(a, f"SET (personal {MSG_EVENTS})")
    share(a2, "lr")
    quiet(a)
    a.close(), a2.close()


# ---- QRESYNC (RFC 5465 §5.3, RFC 7162 §3.2.10) ----

def test_qresync_vanished_pushed(nsrv):
    a, b = session(nsrv), session(nsrv)
    for i in range(3):
        append(b, "INBOX", tag=f"A{i}")
    ok(a, "E1", "ENABLE QRESYNC")
    ok(a, "S1", "SELECT INBOX")
    notify(a, f"SET (selected {MSG_EVENTS})")
    ok(b, "S2", "SELECT INBOX")
    ok(b, "S3", "STORE 2 +FLAGS.SILENT (\\Deleted)")
    ok(b, "X1", "EXPUNGE")
    line, seen = wait_for(a, r"^\* (VANISHED|\d+ EXPUNGE)")
    assert line == "* VANISHED 2", line
    # another mailbox: STATUS with HIGHESTMODSEQ (QRESYNC implies CONDSTORE)
    notify(a, f"SET (selected {MSG_EVENTS}) (personal {MSG_EVENTS})", tag="N2")
    append(b, "Drafts", tag="AD")
    line, _ = wait_for(a, r"^\* STATUS")
    assert line.startswith("* STATUS Drafts (UIDNEXT 2 MESSAGES 1 HIGHESTMODSEQ "), line
    a.close(), b.close()


def test_no_qresync_expunge_pushed(nsrv):
    a, b = session(nsrv), session(nsrv)
    for i in range(2):
        append(b, "INBOX", tag=f"A{i}")
    ok(a, "S1", "SELECT INBOX")
    notify(a, f"SET (selected {MSG_EVENTS})")
    ok(b, "S2", "SELECT INBOX")
    ok(b, "S3", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    ok(b, "X1", "EXPUNGE")
    line, _ = wait_for(a, r"^\* (VANISHED|\d+ EXPUNGE)")
    assert line == "* 1 EXPUNGE", line
    a.close(), b.close()


# ---- MSN safety (RFC 5465 §5.3, RFC 3501 §7.4.1) ----

def _read_until_tagged(s, tag, limit=30.0):
    """Reads up to and including the tagged line; returns (that, the rest)."""
    data = bytearray()
    deadline = time.time() + limit
    marker = f"\r\n{tag} ".encode()
    at = -1
    while True:
        assert time.time() < deadline, "no tagged response"
        chunk = s.recv(1 << 20)
        assert chunk, "connection closed"
        start = max(0, len(data) - len(marker))
        data += chunk
        at = data.find(marker, start)
        if at >= 0 and data.find(b"\r\n", at + 2) >= 0:
            break
    end = data.index(b"\r\n", at + 2) + 2
    return bytes(data[:end]), bytes(data[end:])


@pytest.mark.parametrize("uid", [False, True])
def test_expunge_held_during_long_fetch(nsrv, uid):
    b = session(nsrv)
    big = "Subject: big\r\n\r\n" + ("x" * 76 + "\r\n") * 13000    # ~1 MB
    for i in range(8):
        assert append_message(b, "INBOX", big, tag=f"A{i}").startswith(f"A{i} OK")
    s = socket.create_connection(("127.0.0.1", nsrv.imap_port), timeout=TIMEOUT)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.sendall(b"L LOGIN alice secret-pw\r\nS SELECT INBOX\r\n"
              b"N NOTIFY SET (selected (MessageNew MessageExpunge))\r\n")
    _read_until_tagged(s, "N")
    # a long FETCH that cannot finish while we do not read
    s.sendall(b"F UID FETCH 1:* BODY.PEEK[]\r\n" if uid else b"F FETCH 1:* BODY.PEEK[]\r\n")
    time.sleep(0.3)
    ok(b, "S1", "SELECT INBOX")
    # message 1 went out before the FETCH paused: the FETCH completes
    ok(b, "S2", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    ok(b, "X1", "EXPUNGE")
    time.sleep(0.2)
    head, rest = _read_until_tagged(s, "F")
    tail = head[-200:].decode("ascii", "replace")
    assert b"\r\nF OK" in head, tail
    if uid:
        # UID FETCH allows EXPUNGE (§7.4.1): the server may send it
        # during the command or after; either way it arrives
        if b"* 1 EXPUNGE" not in head:
            s.settimeout(3)
            more = rest
            while b"* 1 EXPUNGE" not in more:
                more += s.recv(65536)
    else:
        # no EXPUNGE while the non-UID FETCH ran...
        assert head.count(b" FETCH (BODY[] {") == 8, tail
        assert b"EXPUNGE" not in head, tail
        # ...but at once after it, without another command (SELECTED)
        s.settimeout(3)
        more = rest
        while b"* 1 EXPUNGE\r\n" not in more:
            chunk = s.recv(65536)
            assert chunk, more
            more += chunk
    s.close()
    b.close()


def test_expunge_delayed_waits_for_command(nsrv):
    """SELECTED-DELAYED (§6.1.2): after the FETCH, EXPUNGE waits for a
    command that allows it (NOOP)."""
    a, b = session(nsrv), session(nsrv)
    for i in range(2):
        append(b, "INBOX", tag=f"A{i}")
    ok(a, "S1", "SELECT INBOX")
    notify(a, f"SET (selected-delayed {MSG_EVENTS})")
    ok(b, "S2", "SELECT INBOX")
    ok(b, "S3", "STORE 2 +FLAGS.SILENT (\\Deleted)")
    ok(b, "X1", "EXPUNGE")
    untagged = ok(a, "F1", "FETCH 1 (FLAGS)")
    assert not any("EXPUNGE" in u for u in untagged), untagged
    quiet(a)
    untagged = ok(a, "N2", "NOOP")
    assert "* 2 EXPUNGE" in untagged, untagged
    a.close(), b.close()


# ---- AnnotationChange (RFC 5465 §5.1, RFC 5257) ----

ANN_EVENTS = "(MessageNew MessageExpunge AnnotationChange)"


def test_annotation_change_selected(nsrv):
    a, b = session(nsrv), session(nsrv)
    append(b, "INBOX", tag="A1")
    append(b, "INBOX", tag="A2")
    ok(a, "S1", "SELECT INBOX")
    notify(a, f"SET (selected {ANN_EVENTS})")
    ok(b, "S2", "SELECT INBOX")
    ok(b, "S3", 'STORE 2 ANNOTATION (/comment (value.shared "shared note"))')
    line, _ = wait_for(a, r"^\* \d+ FETCH")
    # RFC 5257 §4.4: the entry names only, never the values
    assert line == '* 2 FETCH (UID 2 ANNOTATION ("/comment"))', line
    # a /private value is its user's: alice's other session sees her own
    ok(b, "S4", 'STORE 1 ANNOTATION (/comment (value.priv "mine"))')
    line, _ = wait_for(a, r"^\* \d+ FETCH")
    assert line == '* 1 FETCH (UID 1 ANNOTATION ("/comment"))', line
    # without AnnotationChange: nothing at once
    notify(a, f"SET (selected {MSG_EVENTS})", tag="N2")
    ok(b, "S5", 'STORE 1 ANNOTATION (/comment (value.shared "x"))')
    quiet(a)
    a.close(), b.close()


def test_annotation_change_other_mailbox_needs_condstore(nsrv):
    a, b = session(nsrv), session(nsrv)
    append(b, "Drafts", tag="A1")
    notify(a, f"SET (personal {ANN_EVENTS})")
    ok(b, "S1", "SELECT Drafts")
    ok(b, "S2", 'STORE 1 ANNOTATION (/comment (value.shared "x"))')
    # §5.1: a STATUS without CONDSTORE could not show it: not notified
    quiet(a)
    ok(a, "E1", "ENABLE CONDSTORE")
    ok(b, "S3", 'STORE 1 ANNOTATION (/comment (value.shared "y"))')
    line, _ = wait_for(a, r"^\* STATUS")
    assert line.startswith("* STATUS Drafts (UIDVALIDITY ") and " HIGHESTMODSEQ " in line, line
    a.close(), b.close()


def test_annotation_private_of_other_user_invisible(nsrv):
    a = session(nsrv)
    ok(a, "C1", "CREATE Shared")
    append(a, "Shared", tag="A1")
    share(a, "lrswn")  # n: .shared annotations (RFC 5257 §3.4)
    ok(a, "E1", "ENABLE CONDSTORE")
    notify(a, f"SET (personal {ANN_EVENTS})")
    b = bob(nsrv)
    ok(b, "S1", f"SELECT {SHARED}")
    # bob's /private value is his alone: alice hears nothing
    ok(b, "S2", 'STORE 1 ANNOTATION (/comment (value.priv "bob only"))')
    quiet(a)
    ok(b, "S3", 'STORE 1 ANNOTATION (/comment (value.shared "for all"))')
    line, _ = wait_for(a, r"^\* STATUS")
    assert line.startswith("* STATUS Shared (UIDVALIDITY "), line
    a.close(), b.close()


def test_annotation_change_selected_shared_rights(nsrv):
    a = session(nsrv)
    ok(a, "C1", "CREATE Shared")
    append(a, "Shared", tag="A1")
    share(a, "lrw")
    b = bob(nsrv)
    ok(b, "S1", f"SELECT {SHARED}")
    notify(b, f"SET (selected {ANN_EVENTS})")
    ok(a, "S2", "SELECT Shared")
    ok(a, "S3", 'STORE 1 ANNOTATION (/comment (value.shared "one"))')
    line, _ = wait_for(b, r"^\* 1 FETCH")
    assert line == '* 1 FETCH (UID 1 ANNOTATION ("/comment"))', line
    # alice's /private value is hers alone
    ok(a, "S4", 'STORE 1 ANNOTATION (/comment (value.priv "hers"))')
    quiet(b)
    # read right revoked: silence
    share(a, "l", tag="S5")
    ok(a, "S6", 'STORE 1 ANNOTATION (/comment (value.shared "two"))')
    quiet(b)
    a.close(), b.close()


def test_shared_watchers_gone_none_add_and_close(nsrv):
    """The owner index follows NOTIFY NONE, SET, ADD and disconnects."""
    a = session(nsrv)
    ok(a, "C1", "CREATE Shared")
    share(a, "lr")
    b1, b2, b3 = bob(nsrv), bob(nsrv), bob(nsrv)
    for i, c in enumerate((b1, b2, b3)):
        notify(c, f"SET (mailboxes {SHARED} {MSG_EVENTS})", tag=f"N{i}")
    notify(b1, "NONE", tag="X1")
    notify(b2, f"ADD (subtree \"Other Users\" {MSG_EVENTS})", tag="X2")
    b3.close()
    append(a, "Shared", tag="A1")
    line, _ = wait_for(b2, r"^\* STATUS")
    assert line == f"* STATUS {SHARED} (UIDNEXT 2 MESSAGES 1)", line
    quiet(b2)          # once, though two indexes lead to it
    quiet(b1)
    # SET without shared names: no longer watched
    notify(b2, f"SET (personal {MSG_EVENTS})", tag="X3")
    append(a, "Shared", tag="A2")
    quiet(b2)
    a.close(), b1.close(), b2.close()


def test_event_reaches_session_once(nsrv):
    """Own mailboxes and the whole "Other Users" tree: two indexes lead to
    the session, it hears each change once."""
    a, a2 = session(nsrv), session(nsrv)
    notify(a, f'SET (personal {MSG_EVENTS}) (subtree "Other Users" {MSG_EVENTS})')
    append(a2, "Drafts", tag="A1")
    line, _ = wait_for(a, r"^\* STATUS")
    assert line == "* STATUS Drafts (UIDNEXT 2 MESSAGES 1)", line
    quiet(a)
    a.close(), a2.close()


def test_lmtp_and_pop3_session_ids_are_not_own_changes(nsrv):
    """IMAP, LMTP and POP3 number their sessions separately: an LMTP or
    POP3 session with the same number as a NOTIFY session is not that
    session (§5's "caused by this client")."""
    from notify_util import deliver
    watchers = [session(nsrv) for _ in range(4)]
    for i, c in enumerate(watchers):
        notify(c, f"SET (inboxes {MSG_EVENTS})", tag=f"N{i}")
    for k in range(4):
        deliver(nsrv, subject=f"m{k}")
        for c in watchers:
            line, _ = wait_for(c, r"^\* STATUS INBOX ")
            assert line == f"* STATUS INBOX (UIDNEXT {k + 2} MESSAGES {k + 1})", line
    for c in watchers:
        c.close()
