"""The journal sink (issue 5): every IMAP action's RFC 5423 event reaches the
journal with its parameters, every line validates against
docs/events.schema.json, seq has no gaps, each filter option changes what a
sink receives and only that, the durable cursor survives a restart, sink
config errors exit 2 with FILE:LINE, and `tidings events status|tail`.
"""
import json
import os
import re
import subprocess
import time

import jsonschema
import pytest
from conftest import ROOT, TIDINGS, TIDINGSD, TIMEOUT, append_message, simple_message

with open(os.path.join(ROOT, "docs", "events.schema.json")) as _f:
    SCHEMA = json.load(_f)
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def sink(name, path, **opts):
    lines = [f"[sink {name}]", "type = journal", f"path = {path}"]
    lines += [f"{k} = {v}" for k, v in opts.items()]
    return "\n".join(lines) + "\n"


def read_journal(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        text = f.read()
    out = []
    for line in text.splitlines():
        ev = json.loads(line)
        VALIDATOR.validate(ev)
        out.append(ev)
    return out


def outbox_last(srv):
    r = srv.cli("events", "status")
    m = re.search(r"last (\d+)", r.stdout)
    return int(m.group(1))


def wait_cursor(srv, name, seq=None):
    """Wait until sink NAME's cursor reaches seq (default: the outbox end)."""
    deadline = time.time() + TIMEOUT
    while time.time() < deadline:
        r = srv.cli("events", "status")
        last = int(re.search(r"last (\d+)", r.stdout).group(1))
        m = re.search(rf"sink {name}: type journal, cursor (\d+), lag (\d+)", r.stdout)
        if m and int(m.group(1)) >= (seq if seq is not None else last):
            return
        time.sleep(0.05)
    raise AssertionError("sink did not catch up: " + r.stdout)


def of_type(events, t):
    return [e for e in events if e["event"] == t]


def check_contiguous(events, first=1):
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs)
    distinct = sorted(set(seqs))
    assert distinct == list(range(first, first + len(distinct))), distinct


@pytest.fixture
def journal_server(server_factory):
    def make(**opts):
        d = os.path.join("/tmp", f"tidings-journal-{os.getpid()}-{time.time_ns()}")
        os.makedirs(d)
        path = os.path.join(d, "events.jsonl")
        srv = server_factory(extra_config=sink("archive", path, **opts))
        srv.journal = path
        made.append(d)
        return srv
    made = []
    yield make
    for d in made:
        subprocess.run(["rm", "-rf", d])


def test_imap_actions_reach_the_journal(journal_server):
    srv = journal_server(flag_mode="flags")
    c = srv.raw()
    c.login("alice", "secret-pw")
    assert c.command("a1", "CREATE Work")[1].startswith("a1 OK")
    assert c.command("a2", "SUBSCRIBE Work")[1].startswith("a2 OK")
    assert c.command("a3", "UNSUBSCRIBE Work")[1].startswith("a3 OK")
    assert append_message(c, "INBOX", simple_message("One"), flags="\\Flagged").startswith("AP OK")
    assert append_message(c, "INBOX", simple_message("Two"), tag="AQ").startswith("AQ OK")
    assert c.command("a4", "SELECT INBOX")[1].startswith("a4 OK")
    assert c.command("a5", "STORE 1 +FLAGS (\\Seen $Label)")[1].startswith("a5 OK")
    assert c.command("a6", "STORE 1 -FLAGS (\\Flagged)")[1].startswith("a6 OK")
    assert c.command("a7", "COPY 1 Work")[1].startswith("a7 OK")
    assert c.command("a8", "MOVE 2 Work")[1].startswith("a8 OK")
    assert c.command("a9", "STORE 1 +FLAGS (\\Deleted)")[1].startswith("a9 OK")
    assert c.command("b1", "EXPUNGE")[1].startswith("b1 OK")
    assert c.command("b2", "RENAME Work Play")[1].startswith("b2 OK")
    assert c.command("b3", "DELETE Play")[1].startswith("b3 OK")
    c.command("b4", "LOGOUT")
    c.close()
    time.sleep(0.2)
    wait_cursor(srv, "archive")
    ev = read_journal(srv.journal)
    check_contiguous(ev)
    assert len(ev) == outbox_last(srv)

    login = of_type(ev, "Login")[-1]
    assert login["user"] == "alice" and login["service"] == "imap"
    assert login["uri"].startswith("imap://alice@")
    assert of_type(ev, "Logout")[-1]["user"] == "alice"

    create = [e for e in of_type(ev, "MailboxCreate") if "/Work;" in e["uri"]][0]
    assert re.search(r"/Work;UIDVALIDITY=\d+$", create["mailboxID"])
    assert create["uidnext"] == 1
    assert of_type(ev, "MailboxSubscribe")[0]["mailboxID"] == create["mailboxID"]
    assert of_type(ev, "MailboxUnSubscribe")[0]["mailboxID"] == create["mailboxID"]

    appends = of_type(ev, "MessageAppend")
    inbox = [e for e in appends if "/INBOX;" in e["mailboxID"]]
    assert [e["uidset"] for e in inbox] == ["1", "2"]
    assert inbox[0]["flagNames"] == ["\\Flagged"]
    assert inbox[0]["messageSize"] == len(simple_message("One"))
    assert inbox[1]["uidnext"] == 3 and inbox[1]["messages"] == 2
    assert inbox[0]["uri"].endswith("/;UID=1")
    assert inbox[1]["modseq"] > inbox[0]["modseq"]

    fset = of_type(ev, "FlagsSet")
    assert fset[0]["flagNames"] == ["\\Seen", "$Label"] and fset[0]["uidset"] == "1"
    assert fset[1]["flagNames"] == ["\\Deleted"]
    fclear = of_type(ev, "FlagsClear")
    assert fclear[0]["flagNames"] == ["\\Flagged"] and fclear[0]["uidset"] == "1"
    assert all("\\Recent" not in e.get("flagNames", []) for e in ev)

    work = [e for e in appends if "/Work;" in e["mailboxID"]]
    assert [e["uidset"] for e in work] == ["1", "2"]          # COPY, MOVE targets
    expunges = of_type(ev, "MessageExpunge")
    assert [e["uidset"] for e in expunges] == ["2", "1"]      # MOVE source, EXPUNGE
    assert expunges[-1]["messages"] == 0

    rename = of_type(ev, "MailboxRename")[0]
    assert "/Play;" in rename["mailboxID"] and "/Work;" in rename["oldMailboxID"]
    assert "/Play;" in of_type(ev, "MailboxDelete")[-1]["mailboxID"]


def test_cli_actions_and_restart_catch_up(journal_server):
    srv = journal_server()
    c = srv.imaplib()
    c.create("Before")
    c.logout()
    time.sleep(0.1)
    wait_cursor(srv, "archive")
    before = read_journal(srv.journal)
    srv.stop()
    # Changes while tidingsd is down: the outbox keeps them.
    srv.cli("mailbox", "create", "alice", "WhileDown")
    srv.cli("message", "append", "alice", "WhileDown", input=simple_message("Down"))
    last = outbox_last(srv)
    assert last > before[-1]["seq"]
    assert "lag" in srv.cli("events", "status").stdout
    srv.start()
    wait_cursor(srv, "archive", last)
    ev = read_journal(srv.journal)
    check_contiguous(ev)
    assert len(ev) == last                                    # no duplicates, no gaps
    assert ev[:len(before)] == before
    news = ev[len(before):]
    assert news[0]["event"] == "MailboxCreate" and news[0]["service"] == "cli"
    assert "admin" in news[0] and "user" not in news[0]
    assert news[1]["event"] == "MessageAppend" and "/WhileDown;" in news[1]["mailboxID"]


def test_flag_modes(server_factory, tmp_path):
    cfg = "".join(sink(n, tmp_path / f"{n}.jsonl", flag_mode=n) for n in ("simple", "flags", "both"))
    cfg += sink("default", tmp_path / "default.jsonl")
    srv = server_factory(extra_config=cfg)
    c = srv.raw()
    c.login("alice", "secret-pw")
    append_message(c, "INBOX", simple_message("F"))
    c.command("s1", "SELECT INBOX")
    c.command("s2", "STORE 1 +FLAGS (\\Seen \\Flagged)")
    c.command("s3", "STORE 1 +FLAGS (\\Deleted)")
    c.command("s4", "STORE 1 -FLAGS (\\Seen)")
    c.close()
    for n in ("simple", "flags", "both", "default"):
        wait_cursor(srv, n)
    kinds = {}
    for n in ("simple", "flags", "both", "default"):
        kinds[n] = [(e["event"], e.get("flagNames")) for e in read_journal(str(tmp_path / f"{n}.jsonl"))
                    if e["event"] in ("FlagsSet", "FlagsClear", "MessageRead", "MessageTrash")]
    assert kinds["simple"] == [("MessageRead", None), ("FlagsSet", ["\\Flagged"]),
                               ("MessageTrash", None), ("FlagsClear", ["\\Seen"])]
    assert kinds["default"] == kinds["simple"]
    assert kinds["flags"] == [("FlagsSet", ["\\Seen", "\\Flagged"]), ("FlagsSet", ["\\Deleted"]),
                              ("FlagsClear", ["\\Seen"])]
    assert kinds["both"] == [("MessageRead", None), ("FlagsSet", ["\\Seen", "\\Flagged"]),
                             ("MessageTrash", None), ("FlagsSet", ["\\Deleted"]),
                             ("FlagsClear", ["\\Seen"])]
    read = [e for e in read_journal(str(tmp_path / "simple.jsonl")) if e["event"] == "MessageRead"][0]
    assert read["uidset"] == "1" and "modseq" in read and "/INBOX;" in read["mailboxID"]


def test_filters(server_factory, tmp_path):
    names = ("all", "groups", "users", "mailboxes", "params", "tags", "types")
    opts = {
        "all": {},
        "groups": {"events": "mailbox access"},
        "users": {"users": "bob"},
        "mailboxes": {"mailboxes": 'inbox, "Work Stuff"'},
        "params": {"params": "uidset modseq"},
        "tags": {"tags": "archive, billing"},
        "types": {"events": "MessageAppend,Logout"},
    }
    cfg = "".join(sink(n, tmp_path / f"{n}.jsonl", **opts[n]) for n in names)
    srv = server_factory(extra_config=cfg)
    for user, pw in (("alice", "secret-pw"), ("bob", "bob-pw")):
        c = srv.raw()
        c.login(user, pw)
        c.command("c1", 'CREATE "Work Stuff"')
        append_message(c, "Work Stuff", simple_message("W"))
        append_message(c, "INBOX", simple_message("I"), tag="AR")
        c.command("c2", "SELECT INBOX")
        c.command("c3", "STORE 1 +FLAGS (\\Answered)")
        c.command("c4", "LOGOUT")
        c.close()
    time.sleep(0.2)
    for n in names:
        wait_cursor(srv, n)
    j = {n: read_journal(str(tmp_path / f"{n}.jsonl")) for n in names}
    full = j["all"]
    check_contiguous(full)

    def strip(e, drop=()):
        return {k: v for k, v in e.items() if k not in drop}

    assert j["groups"] == [e for e in full if e["event"].startswith("Mailbox")
                           or e["event"] in ("Login", "Logout")]
    assert j["types"] == [e for e in full if e["event"] in ("MessageAppend", "Logout")]

    def owner(e):
        return re.match(r"imap://([^@]+)@", e.get("mailboxID", e.get("uri", ""))).group(1)
    assert j["users"] == [e for e in full if owner(e) == "bob"]
    assert j["users"]

    def mbox(e):
        m = re.match(r"imap://[^/]+/([^;]*)", e.get("mailboxID", ""))
        return m.group(1) if m else ""
    assert j["mailboxes"] == [e for e in full if mbox(e) in ("INBOX", "Work%20Stuff")]
    assert {mbox(e) for e in j["mailboxes"]} == {"INBOX", "Work%20Stuff"}

    assert j["params"] == [{k: v for k, v in e.items() if k in ("seq", "event", "uidset", "modseq")}
                           for e in full]
    assert j["tags"] == [dict(e, tags=["archive", "billing"]) for e in full]


@pytest.mark.parametrize("body,line,msg", [
    ("[sink a]\ntype = webhook\nurl = http://x/\n", 1, "missing 'secret'"),
    ("[sink a]\ntype = journal\nevents = message bogus\n", 3, "unknown event type or group 'bogus'"),
    ("[sink a]\ntype = journal\nflag_mode = sometimes\n", 3, "flag_mode"),
    ("[sink a]\ntype = journal\nparams = uidset nonsense\n", 3, "unknown RFC 5423 parameter"),
    ("[sink a]\ntype = journal\ncolour = red\n", 3, "unknown key 'colour'"),
    ("[sink a]\npath = x\n", 1, "missing 'type'"),
    ("[sink a]\ntype = journal\nrotate_size = lots\n", 3, "rotate_size"),
])
def test_sink_config_errors_exit_2(server_factory, body, line, msg):
    srv = server_factory(extra_config=body, users=(), start=False)
    base = sum(1 for _ in open(srv.config_path)) - body.count("\n") - 1
    r = subprocess.run([TIDINGSD, "-c", srv.config_path], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 2, r.stderr
    assert f"{srv.config_path}:{base + line}:" in r.stderr, r.stderr
    assert msg in r.stderr, r.stderr


def test_events_status_and_tail(journal_server):
    srv = journal_server()
    c = srv.imaplib()
    c.create("Tailed")
    c.logout()
    wait_cursor(srv, "archive")
    last = outbox_last(srv)
    st = srv.cli("events", "status").stdout
    assert re.search(rf"outbox: {last} events, first 1, last {last}", st), st
    assert f"sink archive: type journal, cursor {last}, lag 0" in st

    tail = [json.loads(l) for l in srv.cli("events", "tail").stdout.splitlines()]
    assert [e["seq"] for e in tail] == list(range(max(1, last - 9), last + 1))
    for e in tail:
        VALIDATOR.validate(e)
    journal = read_journal(srv.journal)
    # The journal (unfiltered, flag_mode without FlagsSet here) is the outbox.
    assert {e["seq"]: e for e in journal}[last] == tail[-1]

    frm = [json.loads(l) for l in srv.cli("events", "tail", "--from", "3", "--type", "mailbox").stdout.splitlines()]
    assert frm and all(e["seq"] >= 3 and e["event"].startswith("Mailbox") for e in frm)
    assert srv.cli("events", "tail", "--type", "Nope", check=False).returncode == 2

    # -f prints what comes later.
    p = subprocess.Popen([TIDINGS, "-c", srv.config_path, "events", "tail", "-f", "--from", str(last + 1)],
                         stdout=subprocess.PIPE, text=True)
    try:
        srv.cli("mailbox", "create", "alice", "Followed")
        line = p.stdout.readline()
        e = json.loads(line)
        assert e["seq"] == last + 1 and e["event"] == "MailboxCreate"
        assert "/Followed;" in e["mailboxID"]
    finally:
        p.kill()
        p.wait()


def test_journal_rotation(journal_server):
    srv = journal_server(rotate_size="2K", rotate_keep="2")
    c = srv.imaplib()
    for i in range(12):
        c.create(f"Rot{i}")
        time.sleep(0.03)      # several batches, so several rotations
    c.logout()
    wait_cursor(srv, "archive")
    files = [srv.journal + s for s in (".2", ".1", "")]
    assert all(os.path.exists(f) for f in files)
    assert not os.path.exists(srv.journal + ".3")
    ev = []
    for f in files:
        # a file is rotated before a batch would take it past 2K
        # (a single batch larger than that still goes in whole)
        ev += read_journal(f)
    check_contiguous(ev, first=ev[0]["seq"])
    assert ev[-1]["seq"] == outbox_last(srv)


def test_log_shows_outbox_size_and_lag(server_factory, tmp_path):
    """A sink that is behind (a webhook nobody listens on) shows in the log,
    once per prune interval, with the outbox size and each sink's lag; a
    sink that has everything shows lag 0 on the same line."""
    from conftest import free_port
    cfg = ("outbox_prune_interval = 1\n" + sink("archive", tmp_path / "a.jsonl")
           + f"[sink hook]\ntype = webhook\nurl = http://127.0.0.1:{free_port()}/x\n"
           "secret = 0123456789abcdef0123\n")
    srv = server_factory(extra_config=cfg)
    srv.cli("mailbox", "create", "alice", "Lagging")
    wait_cursor(srv, "archive")
    last = outbox_last(srv)
    want = re.compile(rf"outbox: {last} events, first 1, last {last}; "
                      rf"sink archive lag 0, sink hook lag {last}")
    deadline = time.time() + TIMEOUT
    while time.time() < deadline and not want.search(srv.log()):
        time.sleep(0.1)
    assert want.search(srv.log()), srv.log()[-2000:]
    st = srv.cli("events", "status").stdout
    assert f"sink hook: type webhook, cursor 0, lag {last}" in st, st
