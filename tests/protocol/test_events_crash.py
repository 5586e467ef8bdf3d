"""kill -9 trial across sinks (issue 5): a mixed workload (APPEND, STORE,
EXPUNGE, MOVE, CREATE/RENAME over IMAP from two users, LMTP deliveries)
runs while tidingsd is killed with SIGKILL at random moments, 20 times.
Afterwards, once every sink has caught up:

* every sink holds every outbox row, in order, at least once (deduplicated
  by (seq, event) it is exactly the outbox: nothing missing, nothing
  invented, no gap);
* every change that was acknowledged (tagged OK, LMTP 250) has its event
  at every sink, with the UID the client was told;
* no event describes a change that was not committed: each message event
  names a message that is in the final store or whose removal has its own
  later event, each created mailbox exists or was renamed later, expunged
  messages are gone, flags set are there.

Each sink is a collector (a config section + a way to read what it got):
the journal always; the webhook sink (a real HTTP receiver on a thread)
and the nats sink (a real `nats-server -js`, its stream read back at the
end) when this build's tidingsd accepts `type = webhook` / `type = nats`.
"""
import base64
import hashlib
import hmac
import http.server
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import TIDINGS, TIMEOUT, RawImap, free_port, simple_message

ROUNDS = 20


# ---- collectors -------------------------------------------------------------

class JournalCollector:
    name = "journal"

    def __init__(self, tmp):
        self.path = os.path.join(tmp, "crash-events.jsonl")

    def section(self):
        return (f"[sink {self.name}]\ntype = journal\npath = {self.path}\n"
                "flag_mode = flags\nrotate_size = 0\n")

    def events(self):
        if not os.path.exists(self.path):
            return []
        with open(self.path) as f:
            return [json.loads(l) for l in f.read().splitlines()]

    def close(self):
        pass


class WebhookCollector:
    """A real HTTP receiver: checks every signature, keeps every event."""
    name = "webhook"
    secret = "crash-trial-secret-0123456789"

    def __init__(self, tmp):
        self.got = []
        self.bad = []
        coll = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                ts = self.headers.get("X-Tidings-Timestamp", "")
                sig = self.headers.get("X-Tidings-Signature", "")
                want = hmac.new(coll.secret.encode(), ts.encode() + b"." + body,
                                hashlib.sha256).hexdigest()
                if sig != "v1=" + want:
                    coll.bad.append(sig)
                try:
                    coll.got.extend(json.loads(body))
                except ValueError:
                    coll.bad.append(body[:100])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def section(self):
        return (f"[sink {self.name}]\ntype = webhook\n"
                f"url = http://127.0.0.1:{self.port}/hook\nsecret = {self.secret}\n"
                "flag_mode = flags\n")

    def events(self):
        assert not self.bad, f"webhook: bad signatures or bodies: {self.bad[:3]}"
        return list(self.got)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"


class NatsCollector:
    """A real `nats-server -js` for the whole trial (only tidingsd is
    killed); afterwards the stream is read message by message through the
    JetStream API with a minimal client written from the text protocol."""
    name = "nats"

    def __init__(self, tmp):
        self.port = free_port()
        self.dir = os.path.join(tmp, "nats")
        os.makedirs(self.dir)
        self.log = open(os.path.join(self.dir, "nats.log"), "ab")
        self.proc = subprocess.Popen([NATS_SERVER, "-js", "-a", "127.0.0.1", "-p",
                                      str(self.port), "-sd", os.path.join(self.dir, "store")],
                                     stdout=self.log, stderr=self.log)
        deadline = time.time() + TIMEOUT
        while True:
            assert self.proc.poll() is None, "nats-server exited"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline, "nats-server did not start"
                time.sleep(0.05)

    def section(self):
        return (f"[sink {self.name}]\ntype = nats\nurl = nats://127.0.0.1:{self.port}\n"
                "stream = CRASH\nsubject = crash.<event>\nflag_mode = flags\n")

    def _request(self, sock, buf, subject, payload):
        sock.sendall(f"PUB {subject} _INBOX.crash {len(payload)}\r\n".encode()
                     + payload + b"\r\n")
        while True:
            while b"\r\n" not in buf[0]:
                d = sock.recv(65536)
                if not d:
                    raise EOFError
                buf[0] += d
            line, buf[0] = buf[0].split(b"\r\n", 1)
            if line == b"PING":
                sock.sendall(b"PONG\r\n")
            elif line.startswith(b"MSG "):
                n = int(line.split()[-1])
                while len(buf[0]) < n + 2:
                    buf[0] += sock.recv(65536)
                data, buf[0] = buf[0][:n], buf[0][n + 2:]
                return json.loads(data)

    def events(self):
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        buf = [b""]
        sock.sendall(b'CONNECT {"verbose":false}\r\nSUB _INBOX.crash 1\r\n')
        try:
            st = self._request(sock, buf, "$JS.API.STREAM.INFO.CRASH", b"")["state"]
            out = []
            for seq in range(st["first_seq"], st["last_seq"] + 1):
                r = self._request(sock, buf, "$JS.API.STREAM.MSG.GET.CRASH",
                                  json.dumps({"seq": seq}).encode())
                out.append(json.loads(base64.b64decode(r["message"]["data"])))
            return out
        finally:
            sock.close()

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def sink_type_accepted(tmp, section):
    """Does this build's tidings accept the section (nothing is started)?"""
    conf = os.path.join(tmp, "probe.conf")
    with open(conf, "w") as f:
        f.write(f"data_dir = {os.path.join(tmp, 'probe-data')}\n{section}")
    r = subprocess.run([TIDINGS, "-c", conf, "events", "status"],
                       capture_output=True, text=True, timeout=30)
    return "not supported yet" not in r.stderr and r.returncode in (0, 1)


# ---- the workload -----------------------------------------------------------

class Log:
    """What clients were told; shared by the worker threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.appended = []    # (user, mailbox, uidvalidity, uid)
        self.flagged = []     # (user, mailbox, uid)
        self.expunged = []    # (user, mailbox, uid)
        self.moved = []       # (user, src uid, dst uidvalidity, dst uid)
        self.created = []     # (user, name)
        self.renamed = []     # (user, old, new)
        self.delivered = []   # message-id (to bob over LMTP)

    def add(self, what, item):
        with self.lock:
            getattr(self, what).append(item)


class ImapWorker:
    """One user's sequential workload on its own INBOX / Archive: the
    state (which UIDs are surely there) lives across rounds."""

    def __init__(self, user, password, log, seed):
        self.user, self.password, self.log = user, password, log
        self.rng = random.Random(seed)
        self.live = []        # UIDs in INBOX known to be there, not flagged
        self.flagged = []     # UIDs in INBOX known flagged
        self.created = []     # mailboxes created and not renamed yet
        self.n = 0

    def tag(self):
        self.n += 1
        return f"W{self.n}"

    def run(self, port, stop):
        try:
            c = RawImap(port)
            c.login(self.user, self.password)
            c.command("S", "SELECT INBOX")
            while not stop.is_set():
                self.step(c)
        except (EOFError, OSError, AssertionError):
            return

    def step(self, c):
        r = self.rng.random()
        pool = self.live + self.flagged
        if r < 0.4 or not pool:
            data = simple_message(f"{self.user}-{time.time_ns()}").encode()
            t = self.tag()
            c.send(f"{t} APPEND INBOX {{{len(data)}+}}\r\n".encode() + data + b"\r\n")
            _, tagged = c.until_tagged(t)
            m = re.search(r"\[APPENDUID (\d+) (\d+)\]", tagged)
            if tagged.startswith(f"{t} OK") and m:
                self.log.add("appended", (self.user, "INBOX", int(m.group(1)), int(m.group(2))))
                self.live.append(int(m.group(2)))
        elif r < 0.55 and self.live:
            uid = self.live.pop(self.rng.randrange(len(self.live)))
            t = self.tag()
            _, tagged = c.command(t, f"UID STORE {uid} +FLAGS (\\Flagged)")
            if tagged.startswith(f"{t} OK"):
                self.log.add("flagged", (self.user, "INBOX", uid))
                self.flagged.append(uid)
        elif r < 0.7:
            uid = self.take(pool)
            t = self.tag()
            _, tagged = c.command(t, f"UID STORE {uid} +FLAGS.SILENT (\\Deleted)")
            if not tagged.startswith(f"{t} OK"):
                return
            t = self.tag()
            untagged, tagged = c.command(t, f"UID EXPUNGE {uid}")
            if tagged.startswith(f"{t} OK") and any("EXPUNGE" in u or "VANISHED" in u
                                                    for u in untagged):
                self.log.add("expunged", (self.user, "INBOX", uid))
        elif r < 0.85:
            uid = self.take(pool)
            t = self.tag()
            untagged, tagged = c.command(t, f"UID MOVE {uid} Archive")
            m = None
            for line in untagged + [tagged]:
                m = m or re.search(r"\[COPYUID (\d+) (\d+) (\d+)\]", line)
            if tagged.startswith(f"{t} OK") and m:
                self.log.add("moved", (self.user, uid, int(m.group(1)), int(m.group(3))))
        else:
            if self.created and self.rng.random() < 0.5:
                old = self.created.pop()
                new = "R" + old[1:]
                t = self.tag()
                _, tagged = c.command(t, f"RENAME {old} {new}")
                if tagged.startswith(f"{t} OK"):
                    self.log.add("renamed", (self.user, old, new))
            else:
                name = f"C{time.time_ns()}"
                t = self.tag()
                _, tagged = c.command(t, f"CREATE {name}")
                if tagged.startswith(f"{t} OK"):
                    self.log.add("created", (self.user, name))
                    self.created.append(name)

    def take(self, pool):
        """A UID from pool, removed from the worker's state at once: if
        the answer is lost, its outcome is unknown and it is not used
        again."""
        uid = pool[self.rng.randrange(len(pool))]
        for lst in (self.live, self.flagged):
            if uid in lst:
                lst.remove(uid)
        return uid


def lmtp_worker(port, log, stop, k):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        buf = b""

        def reply():
            nonlocal buf
            while True:
                while b"\r\n" not in buf:
                    chunk = s.recv(65536)
                    if not chunk:
                        raise EOFError
                    buf += chunk
                line, buf = buf.split(b"\r\n", 1)
                if len(line) < 4 or line[3:4] != b"-":
                    return line.decode()

        reply()
        s.sendall(b"LHLO crash.example.org\r\n")
        reply()
        i = 0
        while not stop.is_set():
            i += 1
            mid = f"lm-{k}-{time.time_ns()}-{i}@example.org"
            s.sendall(b"MAIL FROM:<sender@example.org>\r\nRCPT TO:<bob@example.org>\r\nDATA\r\n")
            if not reply().startswith("250") or not reply().startswith("250"):
                return
            if not reply().startswith("354"):
                return
            s.sendall(f"Subject: {mid}\r\nMessage-ID: <{mid}>\r\n\r\nhi\r\n.\r\n".encode())
            if reply().startswith("250"):
                log.add("delivered", mid)
    except (EOFError, OSError):
        return


# ---- checks -----------------------------------------------------------------

def uidset(text):
    out = set()
    for part in str(text).split(","):
        if ":" in part:
            a, b = part.split(":")
            out.update(range(int(a), int(b) + 1))
        elif part:
            out.add(int(part))
    return out


def mbox_of(url):
    """(owner, mailbox, uidvalidity) of an RFC 5092 URL the store made."""
    m = re.match(r"imap://([^@]+)@[^/]+/([^;]*)(?:;UIDVALIDITY=(\d+))?", url)
    return m.group(1), m.group(2), int(m.group(3) or 0)


def final_state(srv):
    """(user, mailbox) -> {uid: (flags, message-id)} and the mailbox names."""
    out, names = {}, {}
    for user, pw in (("alice", "secret-pw"), ("bob", "bob-pw")):
        c = srv.imaplib(user, pw)
        typ, data = c.list()
        names[user] = {re.search(rb'"([^"]*)"$|(\S+)$', d).group(0).strip(b'"').decode()
                       for d in data if d}
        for mb in ("INBOX", "Archive"):
            typ, _ = c.select(mb)
            if typ != "OK":
                continue
            typ, data = c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            msgs = {}
            for item in data:
                if isinstance(item, tuple):
                    uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
                    fl = re.search(rb"FLAGS \(([^)]*)\)", item[0]).group(1).decode().split()
                    subj = item[1].decode().strip().replace("Subject: ", "")
                    msgs[uid] = (set(fl), subj)
            out[(user, mb)] = msgs
        c.logout()
    return out, names


def outbox_rows(data_dir):
    db = sqlite3.connect(f"file:{os.path.join(data_dir, 'index.db')}?mode=ro", uri=True)
    rows = [(seq, type_) for seq, type_ in db.execute("SELECT seq, type FROM outbox ORDER BY seq")]
    db.close()
    return rows


def check_sink(name, events, rows, log, state, names):
    # in order, at least once: a kill can make a sink send again what it
    # sent but had not recorded as acknowledged, so seqs may step back;
    # the first time each (seq, event) arrives is in seq order
    dedup = {}
    for e in events:
        dedup.setdefault((e["seq"], e["event"]), e)
    firsts = [k[0] for k in dedup]
    assert firsts == sorted(firsts), f"{name}: out of order"
    got = sorted(dedup)
    assert got == rows, (f"{name}: differs from the outbox: missing "
                         f"{sorted(set(rows) - set(got))[:5]}, extra {sorted(set(got) - set(rows))[:5]}")
    evs = [dedup[k] for k in got]

    appends, expunges, flags_set = {}, {}, {}
    created, renamed_from, renamed_to = {}, set(), set()
    for e in evs:
        t = e["event"]
        if t in ("MessageAppend", "MessageNew", "MessageExpunge", "FlagsSet"):
            owner, mb, _ = mbox_of(e["mailboxID"])
            for uid in uidset(e["uidset"]):
                key = (owner, mb, uid)
                {"MessageAppend": appends, "MessageNew": appends,
                 "MessageExpunge": expunges, "FlagsSet": flags_set}[t].setdefault(key, []).append(e)
        elif t == "MailboxCreate":
            owner, mb, _ = mbox_of(e["mailboxID"])
            created[(owner, mb)] = e["seq"]
        elif t == "MailboxRename":
            owner, old, _ = mbox_of(e["oldMailboxID"])
            renamed_from.add((owner, old))
            renamed_to.add((owner, mbox_of(e["mailboxID"])[1]))

    # every acknowledged change has its event
    for user, mb, _, uid in log.appended:
        assert (user, mb, uid) in appends, f"{name}: no MessageAppend for acked {user} {mb} {uid}"
    for user, mb, uid in log.flagged:
        assert any("\\Flagged" in e["flagNames"] for e in flags_set.get((user, mb, uid), [])), \
            f"{name}: no FlagsSet \\Flagged for acked {user} {uid}"
    for user, mb, uid in log.expunged:
        assert (user, mb, uid) in expunges, f"{name}: no MessageExpunge for acked {user} {uid}"
    for user, src, _, dst in log.moved:
        assert (user, "INBOX", src) in expunges, f"{name}: no MessageExpunge for moved {src}"
        assert (user, "Archive", dst) in appends, f"{name}: no MessageAppend for moved-to {dst}"
    for user, mbname in log.created:
        assert (user, mbname) in created, f"{name}: no MailboxCreate for {mbname}"
    for user, old, new in log.renamed:
        assert (user, old) in renamed_from and (user, new) in renamed_to, \
            f"{name}: no MailboxRename {old} -> {new}"
    bob_inbox = state[("bob", "INBOX")]
    by_subject = {subj: uid for uid, (_, subj) in bob_inbox.items()}
    for mid in log.delivered:
        assert mid in by_subject, f"delivered {mid} not in bob's INBOX"
        news = [e for e in appends.get(("bob", "INBOX", by_subject[mid]), [])
                if e["event"] == "MessageNew"]
        assert news, f"{name}: no MessageNew for delivered {mid}"

    # no event for a change that was not committed
    for key, es in appends.items():
        owner, mb, uid = key
        there = uid in state.get((owner, mb), {})
        assert there or key in expunges, f"{name}: {es[0]['event']} {key} but no such message"
    for key in expunges:
        owner, mb, uid = key
        assert uid not in state.get((owner, mb), {}), f"{name}: MessageExpunge {key} but it is there"
        assert key in appends, f"{name}: MessageExpunge {key} of a message never added"
    for key, es in flags_set.items():
        owner, mb, uid = key
        msgs = state.get((owner, mb), {})
        assert uid in msgs or key in expunges, f"{name}: FlagsSet {key} of no message"
        if uid in msgs:
            for e in es:
                assert set(e["flagNames"]) <= msgs[uid][0], (key, e, msgs[uid])
    for (owner, mbname), seq in created.items():
        assert mbname in names[owner] or (owner, mbname) in renamed_from, \
            f"{name}: MailboxCreate {mbname} but no such mailbox"
    return len(evs)


@pytest.mark.slow
def test_kill9_mixed_workload_every_sink(server_factory, tmp_path):
    tmp = str(tmp_path)
    collectors = [JournalCollector(tmp)]
    wh = WebhookCollector(tmp)
    if sink_type_accepted(tmp, wh.section()):
        collectors.append(wh)
    else:
        wh.close()
    if os.path.exists(NATS_SERVER):
        nc = NatsCollector(tmp)
        if sink_type_accepted(tmp, nc.section()):
            collectors.append(nc)
        else:
            nc.close()
    lmtp_port = free_port()
    srv = server_factory(extra_config=f"lmtp_listen = 127.0.0.1:{lmtp_port}\n" +
                         "".join(c.section() for c in collectors))
    try:
        # Archive is one of the default mailboxes every user gets
        log = Log()
        rng = random.Random(5423)
        workers = [ImapWorker("alice", "secret-pw", log, 1), ImapWorker("bob", "bob-pw", log, 2),
                   ImapWorker("alice", "secret-pw", log, 3)]
        # two alice workers share INBOX: their UID pools are separate,
        # and each only touches UIDs it appended itself
        for round_ in range(ROUNDS):
            stop = threading.Event()
            threads = [threading.Thread(target=w.run, args=(srv.imap_port, stop)) for w in workers]
            threads += [threading.Thread(target=lmtp_worker, args=(lmtp_port, log, stop, k))
                        for k in range(2)]
            for t in threads:
                t.start()
            time.sleep(rng.uniform(0.1, 0.9))
            srv.kill9()
            stop.set()
            for t in threads:
                t.join(timeout=TIMEOUT)
            srv.start()

        assert len(log.appended) > 30 and log.delivered and log.expunged and log.moved, \
            "too little acknowledged to mean anything"
        state, names = final_state(srv)
        # every sink catches up
        deadline = time.time() + 30
        while True:
            st = srv.cli("events", "status").stdout
            last = int(re.search(r"last (\d+)", st).group(1))
            lags = re.findall(r"sink \S+: type \S+, cursor (\d+), lag (\d+)", st)
            if len(lags) == len(collectors) and all(int(c) == last for c, _ in lags):
                break
            assert time.time() < deadline, "sinks did not catch up: " + st
            time.sleep(0.1)
        srv.stop()
        rows = outbox_rows(srv.data_dir)
        assert rows and rows[0][0] == 1 and rows[-1][0] == last
        for coll in collectors:
            n = check_sink(coll.name, coll.events(), rows, log, state, names)
            assert n == len(rows)
        print("collectors:", [c.name for c in collectors], "rows:", len(rows),
              {k: len(v) for k, v in vars(log).items() if isinstance(v, list)})
    finally:
        for coll in collectors:
            coll.close()
