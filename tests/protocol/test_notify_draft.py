"""NOTIFY, the forms of draft-gulbrandsen-imap-notify-07 (X-DRAFT-I07-NOTIFY):
ADD (prepend, newer groups override older), MailboxCreate / MailboxDelete /
MailboxRename as separate events, QuotaExceed / QuotaWithin / QuotaChange,
and message-match criteria after MessageNew and FlagChange."""
import pytest

from notify_util import append, notify, notify_server, ok, quiet, session, wait_for

MSG_EVENTS = "(MessageNew MessageExpunge)"


@pytest.fixture
def nsrv(server_factory):
    return notify_server(server_factory)


def test_capability(nsrv):
    c = session(nsrv)
    untagged = ok(c, "C1", "CAPABILITY")
    assert " NOTIFY X-DRAFT-I07-NOTIFY" in untagged[0], untagged
    c.close()


def test_add_prepends(nsrv):
    a, b = session(nsrv), session(nsrv)
    notify(a, f"SET (mailboxes Drafts {MSG_EVENTS})")
    notify(a, f"ADD (mailboxes Sent {MSG_EVENTS})", tag="N2")
    append(b, "Drafts")
    wait_for(a, r"^\* STATUS Drafts ")
    append(b, "Sent")
    wait_for(a, r"^\* STATUS Sent ")
    append(b, "Trash")
    quiet(a)
    a.close(), b.close()


def test_add_overrides_older(nsrv):
    a, b = session(nsrv), session(nsrv)
    notify(a, "SET (personal (MessageNew MessageExpunge MailboxName))")
    # the newer group rules Drafts: nothing at all for it now
    notify(a, "ADD (mailboxes Drafts NONE)", tag="N2")
    append(b, "Drafts")
    quiet(a)
    append(b, "Sent")
    wait_for(a, r"^\* STATUS Sent ")
    # ... and the older groups still rule the rest
    ok(b, "C1", "CREATE Fresh")
    line, _ = wait_for(a, r"^\* LIST")
    assert line == '* LIST () "/" Fresh', line
    # SET drops everything ADDed before
    notify(a, f"SET (mailboxes Drafts {MSG_EVENTS})", tag="N3")
    append(b, "Sent", tag="AQ")
    quiet(a)
    append(b, "Drafts", tag="AR")
    wait_for(a, r"^\* STATUS Drafts ")
    a.close(), b.close()


def test_add_keeps_selected(nsrv):
    a, b = session(nsrv), session(nsrv)
    ok(a, "S1", "SELECT INBOX")
    notify(a, f"SET (selected {MSG_EVENTS})")
    notify(a, f"ADD (mailboxes Drafts {MSG_EVENTS})", tag="N2")
    append(b, "INBOX")
    wait_for(a, r"^\* 1 EXISTS$")
    append(b, "Drafts")
    wait_for(a, r"^\* STATUS Drafts ")
    a.close(), b.close()


def test_add_limits_count_all_adds(server_factory):
    srv = notify_server(server_factory, extra="notify_max_mailboxes = 3")
    c = session(srv)
    notify(c, f"SET (mailboxes (a b) {MSG_EVENTS})")
    _, tagged = c.command("A1", f"NOTIFY ADD (mailboxes (c d) {MSG_EVENTS})")
    assert tagged.startswith("A1 NO [NOTIFICATIONOVERFLOW]"), tagged
    notify(c, f"ADD (mailboxes c {MSG_EVENTS})", tag="A2")
    c.close()


def test_separate_mailbox_events(nsrv):
    a, b = session(nsrv), session(nsrv)
    notify(a, "SET (personal (MailboxCreate))")
    ok(b, "C1", "CREATE One")
    line, _ = wait_for(a, r"^\* LIST")
    assert line == '* LIST () "/" One', line
    ok(b, "R1", "RENAME One Two")
    ok(b, "D1", "DELETE Two")
    quiet(a)
    notify(a, "SET (personal (MailboxRename))", tag="N2")
    ok(b, "C2", "CREATE Three")
    ok(b, "R2", "RENAME Three Four")
    line, seen = wait_for(a, r"^\* LIST")
    assert line == '* LIST () "/" Four ("OLDNAME" (Three))', line
    assert seen == [], seen
    ok(b, "D2", "DELETE Four")
    quiet(a)
    notify(a, "SET (personal (MailboxDelete))", tag="N3")
    ok(b, "C3", "CREATE Five")
    ok(b, "D3", "DELETE Five")
    line, seen = wait_for(a, r"^\* LIST")
    assert line == '* LIST (\\NonExistent) "/" Five', line
    assert seen == [], seen
    a.close(), b.close()


def test_quota_events(server_factory):
    srv = notify_server(server_factory, extra="quota_messages = 1")
    a, b = session(srv), session(srv)
    notify(a, "SET (personal (QuotaExceed QuotaWithin QuotaChange))")
    append(b, "INBOX")
    _, tagged = b.command("AX", "APPEND INBOX {5+}\r\nhello")
    assert tagged.startswith("AX NO [OVERQUOTA]"), tagged
    line, _ = wait_for(a, r"^\* QUOTAROOT")
    assert line == '* QUOTAROOT INBOX ""', line
    line, _ = wait_for(a, r"^\* QUOTA ")
    assert line == '* QUOTA "" (MESSAGE 1 1)', line
    # the CLI raises the limit: QuotaChange (and QuotaWithin)
    srv.cli("quota", "set", "alice", "--messages", "10")
    line, _ = wait_for(a, r"^\* QUOTA ")
    assert line == '* QUOTA "" (MESSAGE 1 10)', line
    a.close(), b.close()


def test_quota_events_not_asked(server_factory):
    srv = notify_server(server_factory, extra="quota_messages = 1")
    a, b = session(srv), session(srv)
    notify(a, "SET (personal (MailboxName))")
    append(b, "INBOX")
    _, tagged = b.command("AX", "APPEND INBOX {5+}\r\nhello")
    assert tagged.startswith("AX NO [OVERQUOTA]"), tagged
    quiet(a)
    a.close(), b.close()


def test_message_match_other_mailbox(nsrv):
    a, b = session(nsrv), session(nsrv)
    notify(a, 'SET (personal (MessageNew (UID) (SUBJECT "urgent") MessageExpunge '
              'FlagChange (SUBJECT "urgent")))')
    append(b, "Drafts", subject="boring")
    quiet(a)
    append(b, "Drafts", subject="very urgent", tag="AQ")
    line, _ = wait_for(a, r"^\* STATUS")
    assert line == "* STATUS Drafts (UIDNEXT 3 MESSAGES 2)", line
    ok(b, "S1", "SELECT Drafts")
    ok(b, "S2", "STORE 1 +FLAGS.SILENT (\\Seen)")
    quiet(a)
    ok(b, "S3", "STORE 2 +FLAGS.SILENT (\\Seen)")
    line, _ = wait_for(a, r"^\* STATUS")
    assert line.startswith("* STATUS Drafts (UIDVALIDITY ") and line.endswith("UNSEEN 0)"), line
    a.close(), b.close()


def test_message_match_selected(nsrv):
    a, b = session(nsrv), session(nsrv)
    ok(a, "S1", "SELECT INBOX")
    notify(a, 'SET (selected (MessageNew (UID) (SUBJECT "urgent") MessageExpunge '
              'FlagChange (FLAGGED)))')
    append(b, "INBOX", subject="boring")
    line, _ = wait_for(a, r"EXISTS")
    assert line == "* 1 EXISTS", line
    append(b, "INBOX", subject="urgent", tag="AQ")
    line, seen = wait_for(a, r"FETCH")
    assert line == "* 2 FETCH (UID 2)", line
    assert "* 2 EXISTS" in seen, seen
    # EXISTS, RECENT, FETCH: drain the rest of the burst
    if b"RECENT" in a.buf or not a.expect_nothing(0.2):
        wait_for(a, r"RECENT")
    # flag changes of messages that do not match (after the change) are
    # not pushed; the ones that do are
    ok(b, "S1", "SELECT INBOX")
    ok(b, "S2", "STORE 1 +FLAGS.SILENT (\\Seen)")
    quiet(a)
    ok(b, "S3", "STORE 2 +FLAGS.SILENT (\\Flagged)")
    line, _ = wait_for(a, r"FETCH")
    assert line == "* 2 FETCH (UID 2 FLAGS (\\Flagged \\Recent))", line
    a.close(), b.close()


def test_message_match_bad(nsrv):
    c = session(nsrv)
    for i, spec in enumerate([
            "(personal (MessageNew (UID) (NOSUCHKEY) MessageExpunge))",
            "(personal (MessageNew (UID) () MessageExpunge))",
            "(personal (MessageNew MessageExpunge FlagChange (SUBJECT)))",
            "(personal (MessageNew (UID) (CHARSET UTF-8 ALL) MessageExpunge))",
            "(personal (MessageNew MessageExpunge FlagChange (ALL) (ALL)))",
            "(personal (MessageNew MessageExpunge MessageNew))"]):
        _, tagged = c.command(f"M{i}", f"NOTIFY SET {spec}")
        assert tagged.startswith(f"M{i} BAD"), (spec, tagged)
    c.close()
