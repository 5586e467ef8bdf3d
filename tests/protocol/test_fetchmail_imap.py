"""fetchmail over IMAP, end to end: STARTTLS, one-shot retrieval with `keep`
(messages stay, marked \\Seen) and `no keep` (flagged \\Deleted and expunged),
and IDLE mode, where a message delivered over LMTP while fetchmail idles must
reach its MDA within a few seconds.

Every fetchmail started here runs with a temporary HOME and its own pidfile
and is stopped by the test (fetchmail --quit, then kill as a fallback).
"""
import getpass
import os
import re
import shutil
import signal
import smtplib
import subprocess
import time

import pytest
from conftest import TIMEOUT, append_message, free_port, simple_message

FETCHMAIL = shutil.which("fetchmail")
IDLING = re.compile(r"IMAP> A\d+ IDLE\n(fetchmail: )?IMAP< \+")

pytestmark = pytest.mark.skipif(FETCHMAIL is None, reason="fetchmail not installed")


def fetchmail_setup(srv, tmp_path, keep=True, idle=False, fetchall=False):
    """Write a 0600 rcfile (fetchmail refuses others); return (argv, env, out)."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    out = tmp_path / "delivered.mbox"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        "set no bouncemail\n"
        f"poll 127.0.0.1 with proto IMAP port {srv.imap_port}\n"
        f'  user "alice" there with password "secret-pw" is "{getpass.getuser()}" here\n'
        # STARTTLS required; the test server's certificate is self-signed.
        "  sslproto \"auto\" no sslcertck\n"
        f"  {'keep' if keep else 'no keep'}\n"
        f"  {'fetchall' if fetchall else 'no fetchall'}\n"
        f"  {'idle' if idle else 'no idle'}\n"
        f'  mda "cat >> {out}"\n'
    )
    os.chmod(rc, 0o600)
    env = dict(os.environ, HOME=str(home))
    argv = [FETCHMAIL, "--nosyslog", "-f", str(rc),
            "--pidfile", str(tmp_path / "fetchmail.pid")]
    return argv, env, out


def run_fetchmail(argv, env, *extra):
    r = subprocess.run([*argv, *extra], env=env, capture_output=True, text=True,
                       timeout=TIMEOUT)
    return r


def seed(srv):
    c = srv.raw()
    c.login("alice", "secret-pw")
    msgs = [simple_message(f"fetch {i}", f"Body {i}.\r\n") for i in range(3)]
    assert append_message(c, "INBOX", msgs[0]).startswith("AP OK")
    assert append_message(c, "INBOX", msgs[1], flags="\\Seen").startswith("AP OK")
    assert append_message(c, "INBOX", msgs[2]).startswith("AP OK")
    c.close()
    return msgs


def inbox_state(srv):
    """{subject: flags} for alice's INBOX, without touching \\Seen."""
    c = srv.raw()
    c.login("alice", "secret-pw")
    untagged, tagged = c.command("E1", "EXAMINE INBOX")
    assert tagged.startswith("E1 OK"), tagged
    untagged, tagged = c.command("F1", "FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    c.close()
    state = {}
    for line in untagged:
        if " FETCH " not in line:
            continue
        subj = line.split("Subject: ", 1)[1].split("\r\n", 1)[0]
        flags = line.split("FLAGS (", 1)[1].split(")", 1)[0].split()
        state[subj] = sorted(f for f in flags if f != "\\Recent")
    return state


def subjects(out):
    if not out.exists():
        return []
    return [l[len("Subject: "):] for l in out.read_text().splitlines()
            if l.startswith("Subject: ")]


def test_fetchmail_imap_keep(server, tmp_path):
    msgs = seed(server)
    argv, env, out = fetchmail_setup(server, tmp_path, keep=True)
    r = run_fetchmail(argv, env)
    assert r.returncode == 0, r.stderr
    # Only unseen messages without `fetchall`; the one already \Seen stays put.
    assert subjects(out) == ["fetch 0", "fetch 2"]
    text = out.read_text().replace("\n", "\r\n")
    assert msgs[0].split("\r\n\r\n", 1)[1] in text
    assert inbox_state(server) == {"fetch 0": ["\\Seen"], "fetch 1": ["\\Seen"],
                                   "fetch 2": ["\\Seen"]}
    # A second run finds nothing new (fetchmail exits 1: no mail).
    r = run_fetchmail(argv, env)
    assert r.returncode == 1, r.stderr
    assert subjects(out) == ["fetch 0", "fetch 2"]


def test_fetchmail_imap_no_keep(server, tmp_path):
    seed(server)
    argv, env, out = fetchmail_setup(server, tmp_path, keep=False, fetchall=True)
    r = run_fetchmail(argv, env)
    assert r.returncode == 0, r.stderr
    assert subjects(out) == ["fetch 0", "fetch 1", "fetch 2"]
    # Retrieved messages were flagged \Deleted and expunged.
    assert inbox_state(server) == {}
    c = server.imaplib()
    try:
        assert c.select("INBOX") == ("OK", [b"0"])
    finally:
        c.logout()


def test_fetchmail_imap_idle_push(server_factory, tmp_path):
    lmtp_port = free_port()
    srv = server_factory(extra_config=f"lmtp_listen = 127.0.0.1:{lmtp_port}")
    argv, env, out = fetchmail_setup(srv, tmp_path, keep=False, idle=True)
    log = open(tmp_path / "fetchmail.log", "w+")
    proc = subprocess.Popen([*argv, "--idle", "-v"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        # Wait until the server has acknowledged fetchmail's IDLE ("+"
        # continuation, RFC 2177) on the (empty) INBOX.
        deadline = time.time() + TIMEOUT
        while not IDLING.search(open(log.name).read()):
            assert proc.poll() is None, open(log.name).read()
            assert time.time() < deadline, "fetchmail never sent IDLE:\n" + open(log.name).read()
            time.sleep(0.05)
        time.sleep(0.2)
        with smtplib.LMTP("127.0.0.1", lmtp_port, timeout=TIMEOUT) as s:
            assert s.sendmail("sender@example.org", ["alice@example.org"],
                              simple_message("idle push").encode()) == {}
        deadline = time.time() + 5
        while subjects(out) != ["idle push"]:
            assert time.time() < deadline, ("not retrieved while idling:\n"
                                             + open(log.name).read()[-3000:])
            time.sleep(0.05)
        assert proc.poll() is None, "fetchmail left IDLE mode"
        text = open(log.name).read()
        assert "IMAP> A0001 STARTTLS" in text
        # Pushed: the EXISTS arrived during that first IDLE, not by polling.
        assert re.search(r"IMAP< \+[^\n]*\n(fetchmail: )?IMAP< \* 1 EXISTS", text), text
    finally:
        if proc.poll() is None:
            subprocess.run([*argv, "--quit"], env=env, capture_output=True, timeout=TIMEOUT)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        log.close()
    # The retrieved message was deleted from the server (no keep).
    deadline = time.time() + 5
    while inbox_state(srv) != {} and time.time() < deadline:
        time.sleep(0.05)
    assert inbox_state(srv) == {}
