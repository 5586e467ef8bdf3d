"""NOTIFY, every mailbox filter x every event it can take: for each filter a
session sets NOTIFY with that filter and one event at a time, another
session (or the CLI) makes the change on a mailbox the filter covers, and
the response of RFC 5465 §5 / draft -07 §5 arrives.  One server per filter
keeps it fast; the negative cases are in test_notify*.py."""
import re

import pytest

from notify_util import append, deliver, notify, notify_server, ok, session, wait_for

MSG = "(MessageNew MessageExpunge)"
ADMIN = "* ACL {t} alice lrswipkxteancd bob "


class Cell:
    """One filter on one server: a watches, b changes."""

    def __init__(self, srv, spec, target, new_names):
        self.srv = srv
        self.spec = spec            # e.g. "subtree Work"
        self.t = target             # a covered mailbox that exists
        self.new_names = new_names  # covered names that do not exist yet
        self.a = session(srv)
        self.b = session(srv)
        self.n = 0

    def tag(self):
        self.n += 1
        return f"T{self.n}"

    def watch(self, events):
        notify(self.a, f"SET ({self.spec} {events})", tag=self.tag())

    def expect(self, pattern):
        line, _ = wait_for(self.a, pattern)
        return line

    def close(self):
        self.a.close(), self.b.close()


def q(name):
    return re.escape(name)


def ev_message_new(c):
    c.watch(MSG)
    append(c.b, c.t, tag=c.tag())
    c.expect(rf"^\* STATUS {q(c.t)} \(UIDNEXT \d+ MESSAGES \d+\)$")


def ev_message_expunge(c):
    c.watch(MSG)
    b = c.b
    ok(b, c.tag(), f"SELECT {c.t}")
    ok(b, c.tag(), "STORE 1:* +FLAGS.SILENT (\\Deleted)")
    ok(b, c.tag(), "CLOSE")
    c.expect(rf"^\* STATUS {q(c.t)} \(UIDNEXT \d+ MESSAGES 0\)$")


def ev_flag_change(c):
    append(c.b, c.t, tag=c.tag())
    c.watch("(MessageNew MessageExpunge FlagChange)")
    ok(c.b, c.tag(), f"SELECT {c.t}")
    ok(c.b, c.tag(), "STORE 1:* +FLAGS.SILENT (\\Seen)")
    ok(c.b, c.tag(), "CLOSE")
    c.expect(rf"^\* STATUS {q(c.t)} \(UIDVALIDITY \d+ UNSEEN 0\)$")


def ev_annotation_change(c):
    append(c.b, c.t, tag=c.tag())
    ok(c.a, c.tag(), "ENABLE CONDSTORE")
    c.watch("(MessageNew MessageExpunge AnnotationChange)")
    ok(c.b, c.tag(), f"SELECT {c.t}")
    ok(c.b, c.tag(), f'STORE 1 ANNOTATION (/comment (value.shared "{c.n}"))')
    ok(c.b, c.tag(), "CLOSE")
    c.expect(rf"^\* STATUS {q(c.t)} \(UIDVALIDITY \d+ HIGHESTMODSEQ \d+\)$")


def ev_mailbox_metadata(c):
    c.watch("(MailboxMetadataChange)")
    ok(c.b, c.tag(), f'SETMETADATA {c.t} (/shared/comment "{c.n}")')
    c.expect(rf"^\* METADATA {q(c.t)} /shared/comment$")


def ev_server_metadata(c):
    c.watch("(ServerMetadataChange)")
    ok(c.b, c.tag(), f'SETMETADATA "" (/private/comment "{c.n}")')
    c.expect(r'^\* METADATA "" /private/comment$')


def ev_admin_mailbox(c):
    c.watch("(AdminMailbox)")
    rights = "lr" if c.n % 2 else "lrs"
    ok(c.b, c.tag(), f"SETACL {c.t} bob {rights}")
    line = c.expect(r"^\* ACL ")
    assert line.startswith(ADMIN.format(t=c.t)), line


def ev_subscription(c):
    c.watch("(SubscriptionChange)")
    # SUBSCRIBED: a name not subscribed yet, which the (re-evaluated,
    # §6.4) filter covers once it is
    name = c.t if not c.spec.startswith("subscribed") else c.new_names.pop()
    ok(c.b, c.tag(), f"SUBSCRIBE {name}")
    c.expect(rf'^\* LIST \((\\NonExistent )?\\Subscribed\) "/" {q(name)}$')


def _create(c, events):
    c.watch(events)
    name = c.new_names.pop(0)
    ok(c.b, c.tag(), f"CREATE {name}")
    c.expect(rf'^\* LIST \(\) "/" {q(name)}$')
    return name


def _rename(c, events):
    old = _create(c, "(MailboxCreate)")
    c.watch(events)
    new = c.new_names.pop(0)
    ok(c.b, c.tag(), f"RENAME {old} {new}")
    c.expect(rf'^\* LIST \(\) "/" {q(new)} \("OLDNAME" \({q(old)}\)\)$')
    return new


def _delete(c, events):
    name = _create(c, "(MailboxCreate)")
    c.watch(events)
    ok(c.b, c.tag(), f"DELETE {name}")
    c.expect(rf'^\* LIST \(\\NonExistent\) "/" {q(name)}$')


def ev_mailbox_name(c):
    _create(c, "(MailboxName)")
    _rename(c, "(MailboxName)")
    _delete(c, "(MailboxName)")


def ev_mailbox_create(c):
    _create(c, "(MailboxCreate)")


def ev_mailbox_rename(c):
    _rename(c, "(MailboxRename)")


def ev_mailbox_delete(c):
    _delete(c, "(MailboxDelete)")


def ev_quota_change(c):
    c.watch("(QuotaChange)")
    limit = 1000 + c.n
    c.srv.cli("quota", "set", "alice", "--messages", str(limit))
    c.expect(rf'^\* QUOTA "" \(MESSAGE \d+ {limit}\)$')


def ev_quota_exceed_within(c):
    append(c.b, c.t, tag=c.tag())
    c.srv.cli("quota", "set", "alice", "--messages", "1")
    c.watch("(QuotaExceed)")
    tag = c.tag()
    _, tagged = c.b.command(tag, f"APPEND {c.t} {{5+}}\r\nhello")
    assert tagged.startswith(f"{tag} NO [OVERQUOTA]"), tagged
    line = c.expect(r"^\* QUOTAROOT ")
    assert line == f'* QUOTAROOT {c.t} ""', line
    c.expect(r'^\* QUOTA "" \(MESSAGE \d+ 1\)$')
    c.watch("(QuotaWithin)")
    c.srv.cli("quota", "set", "alice", "--messages", "5000")
    c.expect(r'^\* QUOTA "" \(MESSAGE \d+ 5000\)$')


EVENTS = [ev_message_new, ev_message_expunge, ev_flag_change, ev_mailbox_metadata,
          ev_annotation_change,
          ev_server_metadata, ev_admin_mailbox, ev_subscription, ev_mailbox_name,
          ev_mailbox_create, ev_mailbox_rename, ev_mailbox_delete, ev_quota_change,
          ev_quota_exceed_within]
# INBOXES: a new mailbox is no inbox until mail is delivered to it, and a
# deleted one is no longer known to have been one (docs/notify.md)
INBOXES_EVENTS = [e for e in EVENTS if e not in (ev_mailbox_name, ev_mailbox_create,
                                                 ev_mailbox_rename, ev_mailbox_delete)]

NEW = [f"N{i}" for i in range(12)]
FILTERS = {
    "personal": ("personal", "Work", NEW, EVENTS),
    "inboxes": ("inboxes", "INBOX", NEW, INBOXES_EVENTS),
    "subscribed": ("subscribed", "Work", NEW, EVENTS),
    "subtree": ("subtree Work", "Work/Sub", [f"Work/{n}" for n in NEW], EVENTS),
    "mailboxes": (f"mailboxes (Work {' '.join(NEW)})", "Work", NEW, EVENTS),
}


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_filter_every_event(server_factory, name):
    spec, target, new_names, events = FILTERS[name]
    srv = notify_server(server_factory)
    c = Cell(srv, spec, target, list(new_names))
    if target != "INBOX":
        ok(c.b, "C0", f"CREATE {target}")
    if name == "subscribed":
        ok(c.b, "U0", f"SUBSCRIBE {target}")
        for n in new_names[:8]:
            ok(c.b, f"U{n}", f"SUBSCRIBE {n}")
    for ev in events:
        ev(c)
    c.close()


def test_inboxes_rename_of_delivered_mailbox(server_factory):
    srv = notify_server(server_factory)
    a, b = session(srv), session(srv)
    ok(b, "C1", "CREATE Lists")
    deliver(srv, "alice+Lists@example.org")
    notify(a, "SET (inboxes (MailboxName))")
    ok(b, "R1", "RENAME Lists Lists2")
    line, _ = wait_for(a, r"^\* LIST")
    assert line == '* LIST () "/" Lists2 ("OLDNAME" (Lists))', line
    a.close(), b.close()


@pytest.mark.parametrize("filt", ["selected", "selected-delayed"])
def test_selected_filters_every_event(server_factory, filt):
    srv = notify_server(server_factory)
    a, b = session(srv), session(srv)
    append(b, "INBOX", tag="A0")
    ok(a, "S1", "SELECT INBOX")
    notify(a, f"SET ({filt} (MessageNew (UID FLAGS) MessageExpunge FlagChange "
              "AnnotationChange))")
    # MessageNew: EXISTS and the FETCH of its fetch-att
    append(b, "INBOX", tag="A1")
    wait_for(a, r"^\* 2 EXISTS$")
    line, _ = wait_for(a, r"^\* 2 FETCH")
    assert line.startswith("* 2 FETCH (UID 2 FLAGS ("), line
    # FlagChange: FETCH with UID and FLAGS
    ok(b, "S2", "SELECT INBOX")
    ok(b, "S3", "STORE 1 +FLAGS.SILENT (\\Flagged)")
    line, _ = wait_for(a, r"^\* 1 FETCH")
    assert "UID 1" in line and "\\Flagged" in line, line
    # AnnotationChange: FETCH with UID and ANNOTATION naming the entry,
    # never its value (RFC 5257 §4.4)
    ok(b, "S5", 'STORE 1 ANNOTATION (/comment (value.shared "n"))')
    line, _ = wait_for(a, r"^\* 1 FETCH \(UID 1 ANNOTATION")
    assert line == '* 1 FETCH (UID 1 ANNOTATION ("/comment"))', line
    # MessageExpunge: at once for SELECTED, at the next command otherwise
    ok(b, "S4", "STORE 1 +FLAGS.SILENT (\\Deleted)")
    ok(b, "X1", "EXPUNGE")
    if filt == "selected":
        wait_for(a, r"^\* 1 EXPUNGE$")
    else:
        try:
            line, _ = wait_for(a, r"EXPUNGE", timeout=0.3)
            raise AssertionError(f"EXPUNGE before a command: {line}")
        except AssertionError as e:
            assert "no line matching" in str(e), e
        untagged = ok(a, "N2", "NOOP")
        assert "* 1 EXPUNGE" in untagged, untagged
    a.close(), b.close()
