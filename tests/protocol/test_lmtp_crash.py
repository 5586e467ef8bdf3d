"""kill -9 trial for LMTP (issue 4): 8 concurrent LMTP clients deliver to
alice while tidingsd is killed with SIGKILL at random moments, 20 times.
After each restart:
- every message that got its 250 is in INBOX exactly once (by subject; the
  newest ones also by IMAP SEARCH SUBJECT), with a MessageNew event for its
  UID in the outbox;
- no message is half there: every message in INBOX is one a client sent,
  whole, byte for byte (the prepended Return-Path / Delivered-To, then the
  body up to its trailer line); a message whose 250 was lost may be there,
  but then whole and once;
- data_dir/tmp is empty (bodies of deliveries cut short are swept)."""
import json
import os
import random
import re
import socket
import sqlite3
import threading
import time

import pytest

from conftest import TIMEOUT, free_port

CLIENTS = 8
ROUNDS = 20


def message(subject, rng):
    """A message with a unique subject and Message-ID, a body of random
    length (so a torn write would show), and a trailer line last."""
    lines = [f"line {i} of {subject} " + "x" * rng.randrange(10, 70)
             for i in range(rng.randrange(1, 120))]
    return ("From: Sender <sender@example.org>\r\nTo: alice@example.org\r\n"
            f"Subject: {subject}\r\nMessage-ID: <{subject}@example.org>\r\n\r\n"
            + "\r\n".join(lines) + f"\r\nEND {subject}\r\n")


class Client:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""

    def reply(self):
        """The last line of one (possibly multi-line) reply."""
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            if len(line) < 4 or line[3:4] != b"-":
                return line.decode()


def deliverer(port, k, sent, acked, stop, seed):
    """Delivers until the connection dies: `sent` gets every message whose
    DATA was completed, `acked` the ones answered 250."""
    rng = random.Random(seed)
    c = None
    for _ in range(50):
        try:
            c = Client(port)
            break
        except OSError:
            time.sleep(0.02)
    if c is None:
        return
    try:
        assert c.reply().startswith("220")
        c.sock.sendall(b"LHLO crash.example.org\r\n")
        assert c.reply().startswith("250")
        i = 0
        while not stop.is_set():
            i += 1
            subject = f"lc-{seed}-{k}-{i}"
            body = message(subject, rng)
            # PIPELINING: the envelope and DATA in one write
            c.sock.sendall(b"MAIL FROM:<sender@example.org>\r\n"
                           b"RCPT TO:<alice@example.org>\r\nDATA\r\n")
            if not (c.reply().startswith("250") and c.reply().startswith("250")
                    and c.reply().startswith("354")):
                return
            sent[subject] = body
            c.sock.sendall(body.encode() + b".\r\n")
            if c.reply().startswith("250 "):
                acked.append(subject)
    except (EOFError, OSError):
        return
    finally:
        c.sock.close()


def outbox_new_uids(data_dir):
    db = sqlite3.connect(f"file:{os.path.join(data_dir, 'index.db')}?mode=ro", uri=True)
    uids = {}
    try:
        for (params,) in db.execute("SELECT params FROM outbox WHERE type = 'MessageNew'"):
            ev = json.loads(params)
            for part in str(ev.get("uidset", "")).split(","):
                if ":" in part:
                    a, b = part.split(":")
                    r = range(int(a), int(b) + 1)
                else:
                    r = [int(part)] if part else []
                for u in r:
                    uids[u] = uids.get(u, 0) + 1
    finally:
        db.close()
    return uids


def check(srv, sent, acked, last_acked, checked_upto):
    """The checks after one restart; returns the highest UID whose text
    was compared (texts of lower UIDs were compared in earlier rounds)."""
    c = srv.imaplib()
    try:
        typ, _ = c.select("INBOX", readonly=True)
        assert typ == "OK"
        typ, data = c.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert typ == "OK"
        by_subject = {}
        for item in data:
            if not isinstance(item, tuple):
                continue
            uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
            subject = item[1].decode().strip().replace("Subject: ", "")
            assert subject not in by_subject, f"{subject} is there twice"
            by_subject[subject] = uid
        for subject in acked:
            assert subject in by_subject, f"acknowledged message {subject} lost"
        for subject in by_subject:
            assert subject in sent, f"a message nobody sent: {subject!r}"
        # the ones acknowledged just before the kill, by SEARCH too
        for subject in last_acked:
            typ, data = c.uid("SEARCH", "SUBJECT", f'"{subject}"')
            assert typ == "OK" and data[0].split() == [str(by_subject[subject]).encode()]

        new = sorted(u for u in by_subject.values() if u > checked_upto)
        texts = {}
        if new:
            typ, data = c.uid("FETCH", f"{new[0]}:*", "(BODY.PEEK[])")
            assert typ == "OK"
            for item in data:
                if isinstance(item, tuple):
                    uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
                    texts[uid] = item[1]
        for subject, uid in by_subject.items():
            if uid <= checked_upto:
                continue
            want = ("Return-Path: <sender@example.org>\r\n"
                    "Delivered-To: <alice@example.org>\r\n" + sent[subject]).encode()
            assert texts.get(uid) == want, f"{subject} (UID {uid}) is not whole"
    finally:
        c.logout()

    events = outbox_new_uids(srv.data_dir)
    for subject, uid in by_subject.items():
        assert events.get(uid) == 1, f"{subject} (UID {uid}): {events.get(uid)} MessageNew"
    assert os.listdir(os.path.join(srv.data_dir, "tmp")) == []
    return max(by_subject.values(), default=checked_upto)


@pytest.mark.slow
def test_kill9_lmtp_deliveries_survive(server_factory):
    port = free_port()
    srv = server_factory(extra_config=f"lmtp_listen = 127.0.0.1:{port}")
    rng = random.Random(2033)
    sent, acked = {}, []
    checked_upto = 0
    t_start = time.time()
    for round_ in range(ROUNDS):
        stop = threading.Event()
        round_acked = []
        threads = [threading.Thread(target=deliverer,
                                    args=(port, k, sent, round_acked, stop,
                                          round_ * 100 + k))
                   for k in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(rng.uniform(0.05, 0.5))
        srv.kill9()
        stop.set()
        for t in threads:
            t.join(timeout=TIMEOUT)
            assert not t.is_alive()
        acked.extend(round_acked)
        srv.start()
        checked_upto = check(srv, sent, acked, round_acked[-CLIENTS:], checked_upto)

    assert len(acked) > 100, f"only {len(acked)} deliveries acknowledged"
    assert len(sent) > len(acked) - 1
    assert time.time() - t_start < 60
    srv.stop()
