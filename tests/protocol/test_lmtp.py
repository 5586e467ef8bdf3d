"""LMTP delivery (RFC 2033): LHLO capabilities, per-recipient DATA replies,
+detail folders, the MessageNew event with its envelope in the outbox,
Return-Path / Delivered-To, IDLE push, every kind of bad input, a Unix
socket listener, pipelining, and concurrent clients (group commit).

Clients: Python's smtplib.LMTP, swaks --protocol LMTP, and a raw socket
that sends exactly the bytes a test says.
"""
import json
import os
import shutil
import smtplib
import socket
import sqlite3
import subprocess
import threading
import time

import pytest
from conftest import TIMEOUT, free_port


MSG = ("From: Sender <sender@example.org>\r\nTo: alice@example.org\r\n"
       "Subject: {subject}\r\nMessage-ID: <{subject}@example.org>\r\n"
       "\r\nHello over LMTP.\r\n")


class RawLmtp:
    def __init__(self, address, timeout=TIMEOUT):
        if isinstance(address, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(address)
        else:
            self.sock = socket.create_connection(address, timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.greeting = self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """One (possibly multi-line) reply: (code, [lines])."""
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), lines

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def lhlo(self):
        code, lines = self.cmd("LHLO client.example.org")
        assert code == 250, lines
        return lines

    def closed(self):
        self.sock.settimeout(TIMEOUT)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


@pytest.fixture
def lsrv(server_factory):
    port = free_port()
    srv = server_factory(extra_config=f"lmtp_listen = 127.0.0.1:{port}\n"
                                      "max_message_size = 200K")
    srv.lmtp = ("127.0.0.1", port)
    return srv


def raw(srv):
    return RawLmtp(srv.lmtp)


def outbox(srv, type_=None):
    db = sqlite3.connect(f"file:{srv.data_dir}/index.db?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT type, params FROM outbox ORDER BY seq").fetchall()
    finally:
        db.close()
    return [(t, json.loads(p)) for t, p in rows if type_ is None or t == type_]


def envelopes(srv):
    db = sqlite3.connect(f"file:{srv.data_dir}/index.db?mode=ro", uri=True)
    try:
        return db.execute("SELECT mail_from, rcpt_to FROM envelopes "
                          "ORDER BY message_id").fetchall()
    finally:
        db.close()


def mailbox_texts(srv, mailbox="INBOX", user="alice", password="secret-pw"):
    c = srv.imaplib(user, password)
    try:
        typ, _ = c.select(f'"{mailbox}"')
        assert typ == "OK"
        typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[])")
        assert typ == "OK"
        return [d[1] for d in data if isinstance(d, tuple)]
    finally:
        c.logout()


def deliver_raw(c, rcpts, body, mail_from="sender@example.org"):
    """One whole transaction; returns (rcpt codes, DATA reply lines)."""
    assert c.cmd(f"MAIL FROM:<{mail_from}>")[0] == 250
    codes = [c.cmd(f"RCPT TO:<{r}>")[0] for r in rcpts]
    code, lines = c.cmd("DATA")
    if code != 354:
        return codes, lines
    c.send(body)
    return codes, [c.reply()[1][0] for x in codes if x == 250]


# ---------------------------------------------------------------- delivery

def test_lhlo_capabilities(lsrv):
    c = raw(lsrv)
    assert c.greeting[0] == 220
    lines = c.lhlo()
    assert lines[1:] == ["250-PIPELINING", "250-ENHANCEDSTATUSCODES",
                         "250-8BITMIME", f"250-SIZE {200 * 1024}", "250 SMTPUTF8"]
    assert c.cmd("NOOP") == (250, ["250 2.0.0 OK"])
    assert c.cmd("VRFY alice")[0] == 252
    assert c.cmd("QUIT")[0] == 221
    assert c.closed()


def test_smtplib_delivery_headers_and_event(lsrv):
    with smtplib.LMTP(*lsrv.lmtp, timeout=TIMEOUT) as s:
        refused = s.sendmail("sender@example.org", ["alice@example.org"],
                             MSG.format(subject="one").encode())
        assert refused == {}
    texts = mailbox_texts(lsrv)
    assert len(texts) == 1
    assert texts[0].startswith(b"Return-Path: <sender@example.org>\r\n"
                               b"Delivered-To: <alice@example.org>\r\n"
                               b"From: Sender <sender@example.org>\r\n")
    assert texts[0].endswith(b"\r\nHello over LMTP.\r\n")
    news = outbox(lsrv, "MessageNew")
    assert len(news) == 1
    ev = news[0][1]
    assert ev["event"] == "MessageNew"
    assert ev["service"] == "lmtp"
    assert ev["envelope"] == ("MAIL FROM:<sender@example.org>\r\n"
                              "RCPT TO:<alice@example.org>")
    assert ev["uidset"] == "1"
    assert ev["messageSize"] == len(texts[0])
    assert "INBOX" in ev["uri"]
    assert not outbox(lsrv, "MessageAppend")
    assert envelopes(lsrv) == [("sender@example.org", "alice@example.org")]


def test_several_recipients_one_unknown(lsrv):
    c = raw(lsrv)
    c.lhlo()
    assert c.cmd("MAIL FROM:<>")[0] == 250
    assert c.cmd("RCPT TO:<alice@example.org>")[0] == 250
    code, lines = c.cmd("RCPT TO:<nobody@example.org>")
    assert code == 550 and lines[0].startswith("550 5.1.1"), lines
    assert c.cmd("RCPT TO:<bob>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(MSG.format(subject="multi") + ".\r\n")
    # RFC 2033 §4.2: one reply per accepted recipient, in RCPT order
    r1 = c.reply()[1][0]
    r2 = c.reply()[1][0]
    assert r1.startswith("250 2.0.0 <alice@example.org>"), r1
    assert r2.startswith("250 2.0.0 <bob>"), r2
    a = mailbox_texts(lsrv)
    b = mailbox_texts(lsrv, user="bob", password="bob-pw")
    assert len(a) == 1 and len(b) == 1
    assert a[0].startswith(b"Return-Path: <>\r\nDelivered-To: <alice@example.org>\r\n")
    assert b[0].startswith(b"Return-Path: <>\r\nDelivered-To: <bob>\r\n")
    assert sorted(e[1] for e in envelopes(lsrv)) == ["alice@example.org", "bob"]
    assert len(outbox(lsrv, "MessageNew")) == 2


def test_smtplib_refused_recipient(lsrv):
    with smtplib.LMTP(*lsrv.lmtp, timeout=TIMEOUT) as s:
        refused = s.sendmail("x@example.org", ["alice@example.org", "ghost@example.org"],
                             MSG.format(subject="partial").encode())
        assert list(refused) == ["ghost@example.org"]
        assert refused["ghost@example.org"][0] == 550
    assert len(mailbox_texts(lsrv)) == 1


def test_detail_to_existing_and_missing_folder(lsrv):
    lsrv.cli("mailbox", "create", "alice", "Work")
    c = raw(lsrv)
    c.lhlo()
    codes, replies = deliver_raw(c, ["alice+Work@example.org"],
                                 MSG.format(subject="work") + ".\r\n")
    assert codes == [250] and replies[0].startswith("250"), replies
    codes, replies = deliver_raw(c, ["alice+NoSuchFolder@example.org"],
                                 MSG.format(subject="nofolder") + ".\r\n")
    assert codes == [250] and replies[0].startswith("250"), replies
    work = mailbox_texts(lsrv, "Work")
    inbox = mailbox_texts(lsrv, "INBOX")
    assert len(work) == 1 and b"Subject: work" in work[0]
    assert b"Delivered-To: <alice+Work@example.org>" in work[0]
    assert len(inbox) == 1 and b"Subject: nofolder" in inbox[0]


def test_swaks(lsrv):
    if shutil.which("swaks") is None:
        pytest.skip("swaks not installed")
    r = subprocess.run(["swaks", "--protocol", "LMTP", "--server", lsrv.lmtp[0],
                        "--port", str(lsrv.lmtp[1]), "--from", "swaks@example.org",
                        "--to", "alice@example.org,bob@example.org",
                        "--header", "Subject: via swaks", "--body", "Body from swaks."],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    a = mailbox_texts(lsrv)
    b = mailbox_texts(lsrv, user="bob", password="bob-pw")
    assert len(a) == 1 and b"Subject: via swaks" in a[0]
    assert len(b) == 1 and b"Delivered-To: <bob@example.org>" in b[0]


def test_idle_sees_delivery_at_once(lsrv):
    imap = lsrv.raw()
    imap.login("alice", "secret-pw")
    untagged, tagged = imap.command("S1", "SELECT INBOX")
    assert tagged.startswith("S1 OK")
    imap.send("I1 IDLE\r\n")
    assert imap.readline().startswith("+")
    c = raw(lsrv)
    c.lhlo()
    t0 = time.time()
    codes, replies = deliver_raw(c, ["alice"], MSG.format(subject="idle") + ".\r\n")
    assert replies[0].startswith("250")
    line = imap.readline(timeout=1.0)
    assert line == "* 1 EXISTS", line
    assert time.time() - t0 < 1.0
    imap.send("DONE\r\n")
    _, tagged = imap.until_tagged("I1")
    assert tagged.startswith("I1 OK")
    imap.close()


def test_dot_stuffing_and_bare_lf(lsrv):
    c = raw(lsrv)
    c.lhlo()
    body = ("Subject: dots\n\n..leading dot\n.\r\n")
    codes, replies = deliver_raw(c, ["alice"], body)
    assert replies[0].startswith("250"), replies
    # bare LF made CRLF; "." line ended it even with a bare LF ending
    body2 = "Subject: lf\n\nline one\nline two\n.\n"
    codes, replies = deliver_raw(c, ["alice"], body2)
    assert replies[0].startswith("250"), replies
    texts = mailbox_texts(lsrv)
    assert texts[0].endswith(b"Subject: dots\r\n\r\n.leading dot\r\n")
    assert texts[1].endswith(b"Subject: lf\r\n\r\nline one\r\nline two\r\n")
    assert b"\n" not in texts[1].replace(b"\r\n", b"")


def test_unix_socket(server_factory, tmp_path):
    path = os.path.join(str(tmp_path), "lmtp.sock")
    srv = server_factory(extra_config=f"lmtp_listen = {path}")
    deadline = time.time() + TIMEOUT
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.05)
    c = RawLmtp(path)
    assert c.greeting[0] == 220
    c.lhlo()
    codes, replies = deliver_raw(c, ["alice@localhost"], MSG.format(subject="unix") + ".\r\n")
    assert replies[0].startswith("250"), replies
    c.close()
    assert len(mailbox_texts(srv)) == 1
    ev = outbox(srv, "MessageNew")[0][1]
    assert ev["clientIP"] == "local"


def test_pipelined(lsrv):
    c = raw(lsrv)
    c.send("LHLO pipe.example.org\r\n"
           "MAIL FROM:<a@example.org>\r\nRCPT TO:<alice>\r\nRCPT TO:<bob>\r\nDATA\r\n")
    assert c.reply()[0] == 250     # LHLO
    assert c.reply()[0] == 250     # MAIL
    assert c.reply()[0] == 250     # RCPT
    assert c.reply()[0] == 250     # RCPT
    assert c.reply()[0] == 354
    # the body, its end, and a whole second transaction in one write
    c.send("Subject: p1\r\n\r\nbody\r\n.\r\n"
           "RSET\r\nMAIL FROM:<b@example.org>\r\nRCPT TO:<alice>\r\nDATA\r\n")
    # two DATA replies, RSET, MAIL, RCPT
    assert [c.reply()[0] for _ in range(5)] == [250, 250, 250, 250, 250]
    assert c.reply()[0] == 354
    c.send("Subject: p2\r\n\r\nbody\r\n.\r\nNOOP\r\nQUIT\r\n")
    assert c.reply()[0] == 250
    assert c.reply()[0] == 250
    assert c.reply()[0] == 221
    assert c.closed()
    assert len(mailbox_texts(lsrv)) == 2
    assert len(mailbox_texts(lsrv, user="bob", password="bob-pw")) == 1


def test_one_byte_at_a_time(lsrv):
    c = raw(lsrv)
    for b in b"LHLO x\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<alice>\r\nDATA\r\n":
        c.send(bytes([b]))
    assert [c.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    for b in b"Subject: slow\r\n\r\n.x\r\n.\r\n":
        c.send(bytes([b]))
    assert c.reply()[0] == 250
    assert mailbox_texts(lsrv)[0].endswith(b"Subject: slow\r\n\r\nx\r\n")


def test_concurrent_clients(lsrv):
    """8 clients at once: every 250 is a message, exactly once."""
    n_clients, per_client = 8, 10
    errors = []

    def worker(k):
        try:
            # (smtplib.LMTP reads one DATA reply only: raw for two rcpts)
            c = raw(lsrv)
            c.lhlo()
            for i in range(per_client):
                codes, replies = deliver_raw(
                    c, ["alice", "bob"], MSG.format(subject=f"c{k}-{i}") + ".\r\n")
                assert codes == [250, 250], codes
                assert all(r.startswith("250") for r in replies), replies
            c.close()
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    a = mailbox_texts(lsrv)
    b = mailbox_texts(lsrv, user="bob", password="bob-pw")
    assert len(a) == n_clients * per_client
    assert len(b) == n_clients * per_client
    subjects = sorted(t.split(b"Subject: ")[1].split(b"\r\n")[0] for t in a)
    assert len(set(subjects)) == n_clients * per_client
    assert len(outbox(lsrv, "MessageNew")) == 2 * n_clients * per_client


# ---------------------------------------------------------------- bad input

def test_order_errors(lsrv):
    c = raw(lsrv)
    assert c.cmd("MAIL FROM:<a@b.c>")[1][0].startswith("503 5.5.1")
    c.lhlo()
    assert c.cmd("RCPT TO:<alice>")[1][0].startswith("503 5.5.1")
    assert c.cmd("DATA")[1][0].startswith("503 5.5.1")
    assert c.cmd("MAIL FROM:<a@b.c>")[0] == 250
    assert c.cmd("MAIL FROM:<a@b.c>")[1][0].startswith("503 5.5.1")
    # DATA without any accepted recipient
    assert c.cmd("RCPT TO:<ghost>")[0] == 550
    assert c.cmd("DATA")[1][0].startswith("503 5.5.1")
    assert c.cmd("RSET")[0] == 250
    assert c.cmd("HELO x")[1][0].startswith("500 5.5.1")
    assert c.cmd("EHLO x")[1][0].startswith("500 5.5.1")
    assert c.cmd("FOOBAR")[1][0].startswith("500 5.5.1")
    assert c.cmd("NOOP")[0] == 250


def test_syntax_errors(lsrv):
    c = raw(lsrv)
    assert c.cmd("LHLO")[1][0].startswith("501 5.5.4")
    c.lhlo()
    assert c.cmd("MAIL FROM:a@b.c")[1][0].startswith("501 5.1.7")
    assert c.cmd("MAIL FROM:<a b@c>")[1][0].startswith("501 5.1.7")
    assert c.cmd("MAIL TO:<a@b.c>")[1][0].startswith("501 5.5.4")
    assert c.cmd("MAIL FROM:<a@b.c> FOO=BAR")[1][0].startswith("555 5.5.4")
    assert c.cmd("MAIL FROM:<a@b.c> BODY=BINARYMIME")[1][0].startswith("501 5.5.4")
    assert c.cmd("MAIL FROM:<a@b.c> SIZE=12x")[1][0].startswith("501 5.5.4")
    assert c.cmd("MAIL FROM:<a@b.c> SIZE=100 BODY=8BITMIME SMTPUTF8")[0] == 250
    assert c.cmd("RCPT TO:alice")[1][0].startswith("501 5.1.3")
    assert c.cmd("RCPT TO:<alice@>")[1][0].startswith("501 5.1.3")
    assert c.cmd("RCPT TO:<.alice>")[1][0].startswith("501 5.1.3")
    assert c.cmd("RCPT TO:<+detail@example.org>")[1][0].startswith("501 5.1.3")
    assert c.cmd("RCPT TO:<alice> NOTIFY=NEVER")[1][0].startswith("555 5.5.4")
    assert c.cmd("DATA x")[1][0].startswith("501 5.5.4")
    assert c.cmd("RCPT TO:<alice>")[0] == 250


def test_line_too_long(lsrv):
    c = raw(lsrv)
    c.lhlo()
    code, lines = c.cmd("NOOP " + "x" * 1100)
    assert code == 500 and lines[0].startswith("500 5.5.2"), lines
    # very long: more than fits any buffer; the rest of the line is dropped
    c.send("RCPT TO:<" + "a" * 100000 + ">\r\n")
    code, lines = c.reply()
    assert lines[0].startswith("500 5.5.2"), lines
    assert c.cmd("NOOP")[0] == 250


def test_size_limits(lsrv):
    c = raw(lsrv)
    c.lhlo()
    code, lines = c.cmd(f"MAIL FROM:<a@b.c> SIZE={300 * 1024}")
    assert code == 552 and lines[0].startswith("552 5.3.4"), lines
    big = "Subject: big\r\n\r\n" + ("y" * 998 + "\r\n") * 300 + ".\r\n"
    codes, replies = deliver_raw(c, ["alice", "bob"], big)
    assert codes == [250, 250]
    assert len(replies) == 2 and all(r.startswith("552 5.3.4") for r in replies), replies
    # the session goes on
    codes, replies = deliver_raw(c, ["alice"], "Subject: small\r\n\r\nok\r\n.\r\n")
    assert replies[0].startswith("250")
    assert len(mailbox_texts(lsrv)) == 1


def test_nul_refused(lsrv):
    c = raw(lsrv)
    c.lhlo()
    codes, replies = deliver_raw(c, ["alice"], "Subject: nul\r\n\r\na\x00b\r\n.\r\n")
    assert replies[0].startswith("554 5.6.0"), replies
    assert c.cmd("RCPT TO:<alice>")[1][0].startswith("503")  # transaction was reset
    assert c.cmd("NOOP")[0] == 250
    assert not outbox(lsrv, "MessageNew")


def test_disconnect_mid_data_delivers_nothing(lsrv):
    c = raw(lsrv)
    c.lhlo()
    assert c.cmd("MAIL FROM:<a@b.c>")[0] == 250
    assert c.cmd("RCPT TO:<alice>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: cut\r\n\r\npartial body\r\n")
    c.close()
    time.sleep(0.3)
    assert mailbox_texts(lsrv) == []
    assert not outbox(lsrv, "MessageNew")
    assert os.listdir(os.path.join(lsrv.data_dir, "tmp")) == []
    # the server still takes deliveries
    c = raw(lsrv)
    c.lhlo()
    codes, replies = deliver_raw(c, ["alice"], "Subject: after\r\n\r\nok\r\n.\r\n")
    assert replies[0].startswith("250")


def test_recipient_cap(lsrv):
    c = raw(lsrv)
    c.lhlo()
    assert c.cmd("MAIL FROM:<a@b.c>")[0] == 250
    # 1,000 recipients, pipelined
    c.send("".join("RCPT TO:<alice>\r\n" for _ in range(1000)))
    replies = [c.reply()[1][0] for _ in range(1000)]
    assert all(r.startswith("250") for r in replies[:100])
    assert all(r.startswith("452 4.5.3") for r in replies[100:]), replies[100]
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: many\r\n\r\nx\r\n.\r\n")
    data_replies = [c.reply()[1][0] for _ in range(100)]
    assert all(r.startswith("250") for r in data_replies)
    assert len(mailbox_texts(lsrv)) == 100


# ---------------------------------------------------------------- settings

def test_lmtp_domains(server_factory):
    port = free_port()
    srv = server_factory(extra_config=f"lmtp_listen = 127.0.0.1:{port}\n"
                                      "lmtp_domains = example.org, Example.NET")
    c = RawLmtp(("127.0.0.1", port))
    c.lhlo()
    assert c.cmd("MAIL FROM:<a@b.c>")[0] == 250
    assert c.cmd("RCPT TO:<alice@example.org>")[0] == 250
    assert c.cmd("RCPT TO:<bob@EXAMPLE.net>")[0] == 250
    # no domain: always local
    assert c.cmd("RCPT TO:<alice>")[0] == 250
    assert c.cmd("RCPT TO:<alice+Work>")[0] == 250
    # another domain is refused before the user is looked up, so a known
    # and an unknown user get the same answer
    for rcpt in ("alice@example.com", "ghost@example.com", "alice@sub.example.org"):
        code, lines = c.cmd(f"RCPT TO:<{rcpt}>")
        assert code == 550 and lines[0] == f"550 5.7.1 <{rcpt}>: Relay not permitted", lines
    code, lines = c.cmd("RCPT TO:<ghost@example.org>")
    assert code == 550 and lines[0].startswith("550 5.1.1"), lines
    assert c.cmd("DATA")[0] == 354
    c.send(MSG.format(subject="domains") + ".\r\n")
    replies = [c.reply()[1][0] for _ in range(4)]
    assert all(r.startswith("250 2.0.0") for r in replies), replies
    assert len(mailbox_texts(srv)) == 3
    assert len(mailbox_texts(srv, user="bob", password="bob-pw")) == 1


def test_lmtp_timeout(server_factory):
    port = free_port()
    server_factory(extra_config=f"lmtp_listen = 127.0.0.1:{port}\nlmtp_timeout = 1")
    c = RawLmtp(("127.0.0.1", port))
    c.lhlo()
    assert c.cmd("MAIL FROM:<a@b.c>")[0] == 250
    t0 = time.time()
    code, lines = c.reply()
    assert code == 421 and lines[0].startswith("421 4.4.2"), lines
    assert time.time() - t0 < 5
    assert c.closed()


def test_lmtp_max_recipients(server_factory):
    port = free_port()
    srv = server_factory(extra_config=f"lmtp_listen = 127.0.0.1:{port}\n"
                                      "lmtp_max_recipients = 150")
    c = RawLmtp(("127.0.0.1", port))
    c.lhlo()
    assert c.cmd("MAIL FROM:<a@b.c>")[0] == 250
    c.send("".join("RCPT TO:<bob>\r\n" for _ in range(200)))
    replies = [c.reply()[1][0] for _ in range(200)]
    assert all(r.startswith("250") for r in replies[:150])
    assert all(r.startswith("452 4.5.3") for r in replies[150:]), replies[150]
    assert c.cmd("DATA")[0] == 354
    c.send("Subject: many\r\n\r\nx\r\n.\r\n")
    assert all(c.reply()[1][0].startswith("250") for _ in range(150))
    assert len(mailbox_texts(srv, user="bob", password="bob-pw")) == 150


@pytest.mark.parametrize("line,message", [
    ("lmtp_domains = example.org bad/domain", "not a domain name"),
    ("lmtp_domains = " + "a" * 300, "domain name too long"),
    ("lmtp_max_recipients = 99", "RFC 5321 section 4.5.3.1.8"),
    ("lmtp_timeout = 0", "must be from 1"),
])
def test_lmtp_settings_checked(server_factory, line, message):
    srv = server_factory(extra_config=line, users=(), start=False)
    from conftest import TIDINGSD
    r = subprocess.run([TIDINGSD, "-c", srv.config_path], capture_output=True,
                       text=True, timeout=TIMEOUT)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr, r.stderr
