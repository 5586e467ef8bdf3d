"""Issue 5 acceptance, type by type: every one of the 18 RFC 5423 §4 event
types, caused by every path docs/events.md names for it (IMAP, LMTP, POP3
DELE+QUIT, the CLI, expiry), read back from a journal sink and checked
parameter by parameter against what the server itself reports (STATUS
UIDNEXT/UIDVALIDITY, HIGHESTMODSEQ, the connection's ports, the pid), and
validated against docs/events.schema.json.

tidingsd and the CLI run with TZ=TST-05:30 so that `timestamp` must carry
the local offset (+05:30), not Z or +00:00.
"""
import base64
import datetime
import json
import os
import re
import socket
import time

import jsonschema
import pytest
from conftest import ROOT, TIMEOUT, append_message, free_port, simple_message
from test_lmtp import RawLmtp, deliver_raw
from test_pop3 import RawPop

with open(os.path.join(ROOT, "docs", "events.schema.json")) as _f:
    VALIDATOR = jsonschema.Draft202012Validator(json.load(_f))

OLD = "01-Jan-2020 10:00:00 +0000"
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+05:30$")
COMMON_NET = {"timestamp", "service", "clientIP", "clientPort", "serverPort",
              "serverDomain", "serverFQDN", "pid", "process"}


@pytest.fixture
def tz(monkeypatch):
    # POSIX TZ: 5:30 east of UTC, no tzdata needed; inherited by tidingsd
    # and by every `tidings` the test runs.
    monkeypatch.setenv("TZ", "TST-05:30")


def make(server_factory, tmp_path, extra="", sink_opts="", users=None):
    path = str(tmp_path / "events.jsonl")
    lmtp, pop = free_port(), free_port()
    cfg = (f"server_name = mail.example.net\nlmtp_listen = 127.0.0.1:{lmtp}\n"
           f"pop3_listen = 127.0.0.1:{pop}\nadmins = root\n{extra}\n"
           f"[sink archive]\ntype = journal\npath = {path}\nflag_mode = both\n{sink_opts}")
    kw = {} if users is None else {"users": users}
    srv = server_factory(extra_config=cfg, **kw)
    srv.journal = path
    srv.lmtp_addr = ("127.0.0.1", lmtp)
    srv.pop3_port = pop
    # the fixture waits for the IMAP port only
    for port in (lmtp, pop):
        deadline = time.time() + TIMEOUT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline, f"port {port} not listening"
                time.sleep(0.05)
    return srv


def journal(srv):
    """Wait until the sink has every outbox row, then return its lines."""
    deadline = time.time() + TIMEOUT
    while True:
        st = srv.cli("events", "status").stdout
        m = re.search(r"sink archive: type journal, cursor (\d+), lag 0", st)
        if m or time.time() > deadline:
            break
        time.sleep(0.05)
    assert m, st
    with open(srv.journal) as f:
        evs = [json.loads(l) for l in f.read().splitlines()]
    for e in evs:
        VALIDATOR.validate(e)
        assert TS.match(e["timestamp"]), e
        # the offset really is the local one: the clock time matches
        t = datetime.datetime.fromisoformat(e["timestamp"])
        assert abs(t.timestamp() - time.time()) < 600, e
        assert "\\Recent" not in e.get("flagNames", [])
    return evs


def after(evs, seq):
    return [e for e in evs if e["seq"] > seq]


def last(evs):
    return evs[-1]["seq"] if evs else 0


def of(evs, t, **match):
    return [e for e in evs if e["event"] == t and all(e.get(k) == v for k, v in match.items())]


def status(c, mailbox):
    untagged, tagged = c.command("ST", f'STATUS "{mailbox}" (UIDNEXT UIDVALIDITY MESSAGES HIGHESTMODSEQ)')
    assert tagged.startswith("ST OK"), tagged
    line = [l for l in untagged if l.startswith("* STATUS")][0]
    return {k: int(v) for k, v in re.findall(r"(UIDNEXT|UIDVALIDITY|MESSAGES|HIGHESTMODSEQ) (\d+)", line)}


def mbox_id(user, name, uv):
    return f"imap://{user}@mail.example.net/{name};UIDVALIDITY={uv}"


def ports(sock):
    return sock.getsockname()[1], sock.getpeername()[1]


def check_net(e, srv, conn, user, service="imap"):
    """The connection parameters of an event made over a connection whose
    (client, server) ports are CONN."""
    assert e["service"] == service and e["user"] == user
    assert e["clientIP"] == "127.0.0.1"
    assert (e["clientPort"], e["serverPort"]) == conn
    assert e["serverDomain"] == "mail.example.net" and e["serverFQDN"] == "mail.example.net"
    assert e["pid"] == srv.proc.pid and e["process"] == "tidingsd"


def test_imap_paths(server_factory, tmp_path, tz):
    srv = make(server_factory, tmp_path, users=(("alice", "secret-pw"), ("root", "root-pw")))
    c = srv.raw()
    # an admin acting as alice: SASL PLAIN authzid alice, authcid root
    plain = base64.b64encode(b"alice\0root\0root-pw").decode()
    assert c.command("A0", "AUTHENTICATE PLAIN " + plain)[1].startswith("A0 OK")
    s0 = last(journal(srv))
    assert c.command("a1", "CREATE Work/Sub")[1].startswith("a1 OK")      # parent too
    assert c.command("a2", "SUBSCRIBE Work")[1].startswith("a2 OK")
    assert c.command("a3", "SUBSCRIBE Work")[1].startswith("a3 OK")      # no change: no event
    assert c.command("a4", "UNSUBSCRIBE Work")[1].startswith("a4 OK")
    msg1, msg2 = simple_message("One"), simple_message("Two", "two\r\n")
    assert append_message(c, "INBOX", msg1, flags="\\Flagged \\Seen").startswith("AP OK")
    st1 = status(c, "INBOX")
    assert append_message(c, "INBOX", msg2, tag="AQ").startswith("AQ OK")
    st2 = status(c, "INBOX")
    assert c.command("s1", "SELECT INBOX")[1].startswith("s1 OK")
    assert c.command("s2", "UID STORE 1:2 FLAGS (\\Seen $Label)")[1].startswith("s2 OK")
    st3 = status(c, "INBOX")
    assert c.command("s3", "UID COPY 1 Work")[1].startswith("s3 OK")
    assert c.command("s4", "UID COPY 1:2 Work")[1].startswith("s4 OK")
    assert c.command("s5", "UID MOVE 2 Work/Sub")[1].startswith("s5 OK")
    wst = status(c, "Work")
    sst = status(c, "Work/Sub")
    st4 = status(c, "INBOX")
    assert c.command("s6", "SELECT Work")[1].startswith("s6 OK")
    assert c.command("s7", "STORE 1:2 +FLAGS (\\Deleted)")[1].startswith("s7 OK")
    assert c.command("s8", "UID EXPUNGE 1")[1].startswith("s8 OK")
    assert c.command("s9", "CLOSE")[1].startswith("s9 OK")              # expunges UID 2
    wst2 = status(c, "Work")
    assert c.command("r1", "RENAME Work Play")[1].startswith("r1 OK")
    pst = status(c, "Play")
    assert c.command("r2", "DELETE Play/Sub")[1].startswith("r2 OK")
    assert c.command("r3", "CREATE Keep")[1].startswith("r3 OK")
    kst = status(c, "Keep")
    assert c.command("r4", "RENAME INBOX Old")[1].startswith("r4 OK")
    ost = status(c, "Old")
    ist = status(c, "INBOX")
    sock = ports(c.sock)
    c.command("z", "LOGOUT")
    c.close()
    time.sleep(0.2)
    ev = journal(srv)
    new = after(ev, s0)
    for e in new:
        check_net(e, srv, sock, "alice")
        assert e["admin"] == "root"                                     # authcid != authzid

    login = of(ev, "Login")[0]
    check_net(login, srv, sock, "alice")
    assert login["admin"] == "root" and login["uri"] == "imap://alice@mail.example.net/"
    assert login["vnd.tidings.mechanism"] == "PLAIN"
    logout = of(ev, "Logout")[-1]
    assert logout["vnd.tidings.reason"] == "logout" and logout["admin"] == "root"

    # MailboxCreate: the missing parent, then the mailbox; uidnext 1
    cr = of(new, "MailboxCreate")
    assert [re.sub(r";UIDVALIDITY=\d+$", "", e["mailboxID"]) for e in cr] == [
        "imap://alice@mail.example.net/Work", "imap://alice@mail.example.net/Work/Sub",
        "imap://alice@mail.example.net/Keep"]
    assert all(e["uidnext"] == 1 and e["uri"] == e["mailboxID"] for e in cr)
    assert cr[2]["mailboxID"] == mbox_id("alice", "Keep", kst["UIDVALIDITY"])
    work_id = cr[0]["mailboxID"]
    assert [e["mailboxID"] for e in of(new, "MailboxSubscribe")] == [work_id]
    assert [e["mailboxID"] for e in of(new, "MailboxUnSubscribe")] == [work_id]

    # MessageAppend from APPEND: every parameter, values as STATUS says
    ap = of(new, "MessageAppend")
    inbox_id = mbox_id("alice", "INBOX", st1["UIDVALIDITY"])
    a1, a2 = ap[0], ap[1]
    assert a1["mailboxID"] == inbox_id and a1["uri"] == inbox_id + "/;UID=1"
    assert a1["uidset"] == "1" and a1["uidnext"] == st1["UIDNEXT"] == 2
    assert a1["modseq"] == st1["HIGHESTMODSEQ"] and a1["messages"] == 1
    assert a1["messageSize"] == len(msg1) and a1["flagNames"] == ["\\Seen", "\\Flagged"] \
        or a1["flagNames"] == ["\\Flagged", "\\Seen"]
    assert a1["bodyStructure"].startswith('("TEXT" "PLAIN"')
    assert a2["uidset"] == "2" and a2["uidnext"] == 3 and a2["messages"] == 2
    assert a2["modseq"] == st2["HIGHESTMODSEQ"] > a1["modseq"]
    assert "flagNames" not in a2 and a2["messageSize"] == len(msg2)

    # UID STORE FLAGS (\Seen $Label): 1 loses \Flagged gains $Label,
    # 2 gains \Seen and $Label -> FlagsSet (+ MessageRead), FlagsClear
    fs = of(new, "FlagsSet")[0]
    assert fs["uidset"] == "1:2" and set(fs["flagNames"]) == {"\\Seen", "$Label"}
    assert fs["modseq"] == st3["HIGHESTMODSEQ"] and fs["mailboxID"] == inbox_id
    rd = of(new, "MessageRead")[0]
    assert rd["seq"] == fs["seq"] and "flagNames" not in rd
    fc = of(new, "FlagsClear")[0]
    assert fc["uidset"] == "1" and fc["flagNames"] == ["\\Flagged"]

    # COPY / MOVE targets: MessageAppend per command
    work_appends = [e for e in ap if e["mailboxID"] == work_id]
    assert [e["uidset"] for e in work_appends] == ["1", "2:3"]
    one, many = work_appends
    assert one["uri"] == work_id + "/;UID=1" and one["messageSize"] == len(msg1)
    assert set(one["flagNames"]) == {"\\Seen", "$Label"} and "bodyStructure" not in one
    assert many["uri"] == work_id and "messageSize" not in many and many["messages"] == 3
    assert many["uidnext"] == 4
    sub_id = mbox_id("alice", "Work/Sub", sst["UIDVALIDITY"])
    mv = [e for e in ap if e["mailboxID"] == sub_id]
    assert [e["uidset"] for e in mv] == ["1"] and mv[0]["modseq"] == sst["HIGHESTMODSEQ"]

    # MessageExpunge: MOVE source, UID EXPUNGE, CLOSE
    ex = of(new, "MessageExpunge")
    assert [(e["mailboxID"], e["uidset"]) for e in ex[:3]] == [
        (inbox_id, "2"), (work_id, "1"), (work_id, "2")]
    assert ex[0]["uidnext"] == 3 and ex[0]["messages"] == 1
    assert ex[0]["modseq"] == st4["HIGHESTMODSEQ"]
    assert ex[2]["messages"] == wst2["MESSAGES"] == 1 and ex[2]["modseq"] == wst2["HIGHESTMODSEQ"]
    assert wst["MESSAGES"] == 3
    assert ex[1]["uri"] == work_id + "/;UID=1"
    # MessageTrash from the STORE +FLAGS (\Deleted) (flag_mode both)
    tr = of(new, "MessageTrash")
    assert tr and tr[0]["uidset"] == "1:2" and tr[0]["mailboxID"] == work_id

    # MailboxRename: new and old ids, same UIDVALIDITY
    rn = of(new, "MailboxRename")
    assert len(rn) == 2
    assert rn[0]["mailboxID"] == mbox_id("alice", "Play", pst["UIDVALIDITY"])
    assert rn[0]["oldMailboxID"] == work_id and rn[0]["uri"] == rn[0]["mailboxID"]
    # MailboxDelete
    dl = of(new, "MailboxDelete")
    assert [e["mailboxID"] for e in dl] == [
        mbox_id("alice", "Play/Sub", sst["UIDVALIDITY"])]
    # RENAME INBOX (RFC 3501 §6.3.5): MailboxRename to a new mailbox with
    # its own UIDVALIDITY, the messages move (MessageAppend there,
    # MessageExpunge from INBOX), INBOX stays with its UIDVALIDITY
    old_id = mbox_id("alice", "Old", ost["UIDVALIDITY"])
    inbox_now = mbox_id("alice", "INBOX", ist["UIDVALIDITY"])
    assert inbox_now == inbox_id and old_id != work_id
    tail = [e for e in new if e["seq"] > rn[0]["seq"] and e["event"] != "Logout"]
    assert [e["event"] for e in tail] == ["MailboxDelete", "MailboxCreate",
                                          "MailboxRename", "MessageAppend", "MessageExpunge"]
    assert tail[2]["mailboxID"] == old_id and tail[2]["oldMailboxID"] == inbox_id
    ra = tail[3]
    assert ra["mailboxID"] == old_id and ra["uidset"] == "1" and "bodyStructure" not in ra
    assert ra["uidnext"] == ost["UIDNEXT"] and ra["messages"] == 1
    assert tail[4]["mailboxID"] == inbox_id and tail[4]["uidset"] == "1"
    assert tail[4]["messages"] == 0 and tail[4]["modseq"] == ist["HIGHESTMODSEQ"]


def test_lmtp_and_pop3_paths(server_factory, tmp_path, tz):
    srv = make(server_factory, tmp_path)
    l = RawLmtp(srv.lmtp_addr)
    l.lhlo()
    body = simple_message("Via LMTP") + ".\r\n"
    codes, replies = deliver_raw(l, ["alice@example.org", "bob@Example.ORG"], body)
    assert all(r.startswith("250") for r in replies), replies
    codes, replies = deliver_raw(l, ["alice@example.org"], simple_message("Second") + ".\r\n",
                                 mail_from="")
    l.cmd("QUIT")
    l.close()
    ev = journal(srv)
    new = of(ev, "MessageNew")
    assert len(new) == 3 and not of(ev, "MessageAppend")
    c = srv.raw()
    c.login("alice", "secret-pw")
    ast = status(c, "INBOX")
    c.close()
    a, b, a2 = new
    aid = mbox_id("alice", "INBOX", ast["UIDVALIDITY"])
    assert a["mailboxID"] == aid and a["uri"] == aid + "/;UID=1" and a["uidset"] == "1"
    assert a2["uidset"] == "2" and a2["uidnext"] == ast["UIDNEXT"] == 3
    assert a2["modseq"] == ast["HIGHESTMODSEQ"] and a2["messages"] == 2
    assert a["envelope"] == "MAIL FROM:<sender@example.org>\r\nRCPT TO:<alice@example.org>"
    assert b["envelope"] == "MAIL FROM:<sender@example.org>\r\nRCPT TO:<bob@Example.ORG>"
    assert a2["envelope"] == "MAIL FROM:<>\r\nRCPT TO:<alice@example.org>"
    assert b["mailboxID"].startswith("imap://bob@mail.example.net/INBOX;UIDVALIDITY=")
    assert b["serverDomain"] == "Example.ORG" and a["serverDomain"] == "example.org"
    for e in new:
        assert e["service"] == "lmtp" and "user" not in e
        assert e["messageSize"] > len(simple_message("Second")) and e["bodyStructure"]
        assert e["serverPort"] == srv.lmtp_addr[1] and e["clientIP"] == "127.0.0.1"
        assert e["pid"] == srv.proc.pid

    # POP3: USER/PASS, DELE 1 and 2, QUIT -> one MessageExpunge
    s0 = last(ev)
    p = RawPop(srv.pop3_port)
    p.login()
    assert p.cmd("DELE 1").startswith("+OK")
    assert p.cmd("DELE 2").startswith("+OK")
    sock = ports(p.sock)
    assert p.cmd("QUIT").startswith("+OK")
    p.close()
    time.sleep(0.2)
    # (the IMAP session above may log its Logout in between)
    new = [e for e in after(journal(srv), s0) if e["service"] == "pop3"]
    assert [e["event"] for e in new] == ["Login", "MessageExpunge", "Logout"]
    for e in new:
        check_net(e, srv, sock, "alice", service="pop3")
        assert e["uri"].startswith("imap://alice@mail.example.net/")
    x = new[1]
    assert x["mailboxID"] == aid and x["uidset"] == "1:2" and x["messages"] == 0
    assert x["uidnext"] == 3 and x["modseq"] > a2["modseq"]
    assert new[0]["vnd.tidings.mechanism"] == "USER" and new[2]["vnd.tidings.reason"] == "logout"


def test_cli_and_expiry_paths(server_factory, tmp_path, tz):
    # no expire rules yet: tidingsd's timer must not take the old messages
    # before `tidings expire` does
    srv = make(server_factory, tmp_path,
               users=(("alice", "secret-pw"),))
    unix = os.environ.get("USER") or __import__("pwd").getpwuid(os.getuid()).pw_name
    s0 = last(journal(srv))
    srv.add_user("carol", "carol-pw")
    srv.cli("mailbox", "create", "carol", "Projects/Q1")
    uid = srv.cli("message", "append", "--flags", "\\Seen", "carol", "Projects/Q1",
                  input=simple_message("cli")).stdout.strip()
    assert uid == "1"
    srv.cli("mailbox", "rename", "carol", "Projects", "Done")
    srv.cli("mailbox", "delete", "carol", "Done/Q1")
    srv.cli("quota", "set", "carol", "--storage", "10M", "--messages", "100")
    new = after(journal(srv), s0)
    for e in new:
        assert e["service"] == "cli" and e["process"] == "tidings" and e["admin"] == unix
        assert e["pid"] != srv.proc.pid
        assert not {"clientIP", "clientPort", "serverPort", "serverDomain"} & set(e)
        if not e["event"].startswith("Quota"):
            assert "user" not in e
    cr = of(new, "MailboxCreate")
    names = [re.search(r"carol@mail.example.net/([^;]*)", e["mailboxID"]).group(1) for e in cr]
    assert names[0] == "INBOX" and names[-2:] == ["Projects", "Projects/Q1"]
    assert any(e.get("vnd.tidings.specialUse") == "\\Trash" for e in cr)
    ap = of(new, "MessageAppend")[0]
    assert ap["uri"].endswith("/Projects/Q1;UIDVALIDITY=" + ap["mailboxID"].rsplit("=", 1)[1] + "/;UID=1")
    assert ap["flagNames"] == ["\\Seen"] and ap["bodyStructure"] and ap["uidnext"] == 2
    assert ap["messageSize"] == len(simple_message("cli"))
    rn = of(new, "MailboxRename")
    assert len(rn) == 1 and "/Done;" in rn[0]["mailboxID"] and "/Projects;" in rn[0]["oldMailboxID"]
    assert [re.search(r"/([^/;]*/?[^/;]*);", e["mailboxID"]).group(1)
            for e in of(new, "MailboxDelete")] == ["Done/Q1"]
    qc = of(new, "QuotaChange")
    assert len(qc) == 1 and qc[0]["user"] == "carol"
    assert qc[0]["diskQuota"] == 10240 and qc[0]["maxMessages"] == 100
    assert qc[0]["diskUsed"] == 0 and qc[0]["messages"] == 0          # the message went with Done/Q1

    # expiry: `tidings expire USER`, then the timer
    c = srv.raw()
    c.login("alice", "secret-pw")
    for subj, box in (("t1", "Trash"), ("t2", "Trash"), ("j1", "Junk")):
        data = simple_message(subj).encode()
        c.send(f'E APPEND "{box}" "{OLD}" {{{len(data)}}}\r\n')
        assert c.readline().startswith("+")
        c.send(data + b"\r\n")
        assert c.until_tagged("E")[1].startswith("E OK")
    tst = status(c, "Trash")
    s1 = last(journal(srv))
    srv.stop()
    # (before the [sink] section, which ends the config)
    srv.extra_config = "expire = \\Trash:30d Junk:7d\nexpire_interval = 1\n" + srv.extra_config
    srv.write_config()
    srv.cli("expire", "alice")
    srv.start()
    new = after(journal(srv), s1)
    exp = of(new, "MessageExpire")
    assert len(exp) == 2 and not of(new, "MessageExpunge")
    t = [e for e in exp if "/Trash;" in e["mailboxID"]][0]
    assert t["mailboxID"] == mbox_id("alice", "Trash", tst["UIDVALIDITY"])
    assert t["uidset"] == "1:2" and t["messages"] == 0 and t["uidnext"] == 3
    assert t["modseq"] > tst["HIGHESTMODSEQ"] and t["uri"] == t["mailboxID"]
    assert all(e["service"] == "expiry" and e["admin"] == unix and "user" not in e for e in exp)
    # the timer (expire_interval = 1)
    data = simple_message("t3").encode()
    c = srv.raw()
    c.login("alice", "secret-pw")
    c.send(f'E APPEND "Trash" "{OLD}" {{{len(data)}}}\r\n')
    assert c.readline().startswith("+")
    c.send(data + b"\r\n")
    assert c.until_tagged("E")[1].startswith("E OK")
    c.close()
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        timer = [e for e in of(journal(srv), "MessageExpire") if e["uidset"] == "3"]
        if timer:
            break
        time.sleep(0.2)
    assert timer and timer[0]["service"] == "expiry" and timer[0]["process"] == "tidingsd"
    assert timer[0]["pid"] == srv.proc.pid and "user" not in timer[0]

    # user del: MailboxDelete for each mailbox of the user, children first
    s2 = last(journal(srv))
    srv.cli("user", "del", "carol")
    dl = of(after(journal(srv), s2), "MailboxDelete")
    names = [re.search(r"carol@mail.example.net/([^;]*)", e["mailboxID"]).group(1) for e in dl]
    assert "INBOX" in names and "Done" in names


def test_quota_paths(server_factory, tmp_path, tz):
    srv = make(server_factory, tmp_path)
    srv.cli("quota", "set", "alice", "--messages", "2")
    c = srv.raw()
    c.login("alice", "secret-pw")
    for i in range(2):
        assert append_message(c, "INBOX", simple_message(f"q{i}")).startswith("AP OK")
    s0 = last(journal(srv))
    # IMAP APPEND refused
    assert append_message(c, "INBOX", simple_message("q3")).startswith("AP NO [OVERQUOTA]")
    # IMAP COPY refused
    assert c.command("s", "SELECT INBOX")[1].startswith("s OK")
    assert c.command("c", "COPY 1 Trash")[1].startswith("c NO [OVERQUOTA]")
    # LMTP refused
    l = RawLmtp(srv.lmtp_addr)
    l.lhlo()
    _, replies = deliver_raw(l, ["alice@example.org"], simple_message("l") + ".\r\n")
    assert replies[0].startswith("452 4.2.2"), replies
    l.cmd("QUIT")
    l.close()
    # CLI append refused
    r = srv.cli("message", "append", "alice", "INBOX", input=simple_message("cli"), check=False)
    assert r.returncode != 0
    new = after(journal(srv), s0)
    assert [e["event"] for e in new] == ["QuotaExceed"] * 4
    assert [e["service"] for e in new] == ["imap", "imap", "lmtp", "cli"]
    ist = status(c, "INBOX")
    for e in new:
        assert e["user"] == "alice" and e["maxMessages"] == 2 and e["messages"] == 2
        assert "diskQuota" not in e and e["diskUsed"] >= 1
    assert new[0]["mailboxID"] == mbox_id("alice", "INBOX", ist["UIDVALIDITY"])
    assert "/Trash;" in new[1]["mailboxID"]

    # back within: IMAP EXPUNGE
    s1 = last(new)
    assert c.command("d", "STORE 1 +FLAGS.SILENT (\\Deleted)")[1].startswith("d OK")
    assert c.command("e", "EXPUNGE")[1].startswith("e OK")
    w = of(after(journal(srv), s1), "QuotaWithin")
    assert len(w) == 1 and w[0]["messages"] == 1 and w[0]["maxMessages"] == 2
    assert w[0]["service"] == "imap" and w[0]["user"] == "alice"
    # again over, then POP3 DELE + QUIT brings it back
    assert append_message(c, "INBOX", simple_message("q4")).startswith("AP OK")
    assert append_message(c, "INBOX", simple_message("q5")).startswith("AP NO [OVERQUOTA]")
    c.close()
    s2 = last(journal(srv))
    p = RawPop(srv.pop3_port)
    p.login()
    assert p.cmd("DELE 1").startswith("+OK")
    assert p.cmd("QUIT").startswith("+OK")
    p.close()
    time.sleep(0.2)
    w = of(after(journal(srv), s2), "QuotaWithin")
    assert len(w) == 1 and w[0]["service"] == "pop3" and w[0]["messages"] == 1
    # over again; `quota set` raising the limit: QuotaChange then QuotaWithin
    c = srv.raw()
    c.login("alice", "secret-pw")
    assert append_message(c, "INBOX", simple_message("q6")).startswith("AP OK")
    assert append_message(c, "INBOX", simple_message("q7")).startswith("AP NO [OVERQUOTA]")
    c.close()
    s3 = last(journal(srv))
    srv.cli("quota", "set", "alice", "--messages", "5", "--storage", "1M")
    new = after(journal(srv), s3)
    assert [e["event"] for e in new] == ["QuotaChange", "QuotaWithin"]
    assert new[0]["maxMessages"] == 5 and new[0]["diskQuota"] == 1024
    assert new[0]["messages"] == 2 and new[0]["user"] == "alice" and new[0]["service"] == "cli"
    # unchanged limits: no QuotaChange
    s4 = last(new)
    srv.cli("quota", "set", "alice", "--messages", "5")
    assert not after(journal(srv), s4)
