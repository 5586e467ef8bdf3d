"""kill -9 trial: APPENDs in a loop, tidingsd killed at random moments 20
times; after each restart every APPEND that got its tagged OK is there with
its flags and its text, no UID is ever reused, and the outbox holds a
MessageAppend event for each."""
import json
import os
import random
import re
import sqlite3
import threading
import time

import pytest

from conftest import RawImap, simple_message

FLAG_CHOICES = ["", "\\Seen", "\\Flagged", "\\Seen \\Answered", "$Label1"]


def appender(port, acked, stop):
    """APPEND until the connection dies; record every acknowledged message."""
    try:
        c = RawImap(port)
        c.login("alice", "secret-pw")
        i = 0
        while not stop.is_set():
            i += 1
            subject = f"crash-{time.time_ns()}-{i}"
            flags = random.choice(FLAG_CHOICES)
            data = simple_message(subject).encode()
            fl = f"({flags}) " if flags else ""
            c.send(f"A{i} APPEND INBOX {fl}{{{len(data)}+}}\r\n".encode() + data + b"\r\n")
            _, tagged = c.until_tagged(f"A{i}")
            m = re.search(r"\[APPENDUID (\d+) (\d+)\]", tagged)
            if tagged.startswith(f"A{i} OK") and m:
                acked.append((subject, flags, int(m.group(1)), int(m.group(2))))
    except (EOFError, OSError):
        return


def outbox_uids(data_dir):
    db = sqlite3.connect(f"file:{os.path.join(data_dir, 'index.db')}?mode=ro", uri=True)
    uids = set()
    for (params,) in db.execute("SELECT params FROM outbox WHERE type = 'MessageAppend'"):
        ev = json.loads(params)
        for part in str(ev.get("uidset", "")).split(","):
            if ":" in part:
                a, b = part.split(":")
                uids.update(range(int(a), int(b) + 1))
            elif part:
                uids.add(int(part))
    db.close()
    return uids


@pytest.mark.slow
def test_kill9_appends_survive(server_factory):
    srv = server_factory()
    acked = []
    random.seed(5423)
    for round_ in range(20):
        stop = threading.Event()
        threads = [threading.Thread(target=appender, args=(srv.imap_port, acked, stop))
                   for _ in range(2)]
        for t in threads:
            t.start()
        time.sleep(random.uniform(0.05, 0.4))
        srv.kill9()
        stop.set()
        for t in threads:
            t.join(timeout=10)
        srv.start()

    assert len(acked) > 20, "too few APPENDs acknowledged to mean anything"
    uids = [a[3] for a in acked]
    assert len(uids) == len(set(uids)), "a UID was given out twice"
    validity = {a[2] for a in acked}
    assert len(validity) == 1

    c = srv.imaplib()
    c.select("INBOX")
    typ, data = c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK"
    found = {}
    for item in data:
        if isinstance(item, tuple):
            m = re.search(rb"UID (\d+)", item[0])
            fl = re.search(rb"FLAGS \(([^)]*)\)", item[0])
            subject = item[1].decode().strip().replace("Subject: ", "")
            found[subject] = (int(m.group(1)), set(fl.group(1).decode().split()) - {"\\Recent"})
    subjects = [s for s, _ in found.items()]
    assert len(subjects) == len(set(subjects)), "a message is there twice"
    for subject, flags, _, uid in acked:
        assert subject in found, f"acknowledged message {subject} (UID {uid}) lost"
        assert found[subject][0] == uid
        assert found[subject][1] == set(flags.split()), (subject, found[subject][1], flags)

    # After all the crashes, a new APPEND still gets a fresh UID.
    typ, data = c.append("INBOX", None, None, simple_message("after").encode())
    m = re.search(rb"APPENDUID \d+ (\d+)", data[0])
    assert int(m.group(1)) > max(uids)
    c.logout()
    srv.stop()

    events = outbox_uids(srv.data_dir)
    missing = [a for a in acked if a[3] not in events]
    assert not missing, f"no MessageAppend event for {missing[:5]}"
