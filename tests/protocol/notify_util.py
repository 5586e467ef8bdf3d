"""Helpers for the NOTIFY tests: a server with LMTP and POP3 listeners,
logged-in raw IMAP sessions, and reading unsolicited lines with a deadline."""
import re
import smtplib
import socket
import time

from conftest import TIMEOUT, append_message, free_port, simple_message

SUPPORTED = ("MessageNew MessageExpunge FlagChange AnnotationChange MailboxName SubscriptionChange "
             "MailboxMetadataChange ServerMetadataChange "
             "MailboxCreate MailboxDelete MailboxRename QuotaExceed QuotaWithin QuotaChange "
             "AdminMailbox")


def notify_server(server_factory, extra="", users=None):
    lmtp, pop, pops = free_port(), free_port(), free_port()
    kw = {} if users is None else {"users": users}
    srv = server_factory(extra_config=(f"lmtp_listen = 127.0.0.1:{lmtp}\n"
                                       f"pop3_listen = 127.0.0.1:{pop}\n"
                                       f"pop3s_listen = 127.0.0.1:{pops}\n{extra}"), **kw)
    srv.lmtp = ("127.0.0.1", lmtp)
    srv.pop3_port = pop
    return srv


def session(srv, user="alice", password="secret-pw"):
    c = srv.raw()
    c.login(user, password)
    return c


def ok(c, tag, text):
    untagged, tagged = c.command(tag, text)
    assert tagged.startswith(f"{tag} OK"), (text, tagged, untagged)
    return untagged


def notify(c, spec, tag="N1"):
    return ok(c, tag, "NOTIFY " + spec)


def wait_for(c, pattern, timeout=3.0):
    """Reads unsolicited lines until one matches pattern (a regex); returns
    (the matching line, the lines before it).  Fails on timeout."""
    rx = re.compile(pattern)
    seen = []
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        assert left > 0, f"no line matching {pattern!r}; got {seen}"
        try:
            line = c.read_literal_aware_line(timeout=left)
        except (socket.timeout, TimeoutError):
            raise AssertionError(f"no line matching {pattern!r}; got {seen}")
        if rx.search(line):
            return line, seen
        seen.append(line)


def quiet(c, wait=0.4):
    """Asserts nothing arrives for `wait` seconds."""
    assert c.buf == b"", c.buf
    assert c.expect_nothing(wait), c.buf


def deliver(srv, rcpt="alice@example.org", subject="lmtp"):
    with smtplib.LMTP(*srv.lmtp, timeout=TIMEOUT) as s:
        refused = s.sendmail("sender@example.org", [rcpt],
                             simple_message(subject=subject).encode())
        assert refused == {}


def append(c, mailbox, subject="hi", flags="", tag="AP"):
    tagged = append_message(c, mailbox, simple_message(subject=subject), flags=flags, tag=tag)
    assert tagged.startswith(f"{tag} OK"), tagged
    return tagged
