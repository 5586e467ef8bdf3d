"""imapflow (npm), a real Node.js IMAP client, end to end: STARTTLS, login,
LIST, FETCH envelope + source, then IDLE on INBOX and the push (EXISTS) of a
message delivered over LMTP while the client idles.

The client side is tests/clients/imapflow-check.mjs, installed by
scripts/install-deps (`npm ci --prefix tests/clients`).
"""
import json
import os
import shutil
import smtplib
import subprocess

import pytest
from conftest import ROOT, TIMEOUT, append_message, free_port, simple_message

NODE = shutil.which("node")
CLIENTS = os.path.join(ROOT, "tests", "clients")
SCRIPT = os.path.join(CLIENTS, "imapflow-check.mjs")
HAVE_IMAPFLOW = os.path.isdir(os.path.join(CLIENTS, "node_modules", "imapflow"))

pytestmark = [
    pytest.mark.skipif(NODE is None, reason="node not installed (scripts/install-deps installs it)"),
]


def read_json_line(proc, what):
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=TIMEOUT)
        raise AssertionError(f"imapflow-check ended before {what} "
                             f"(exit {proc.returncode}): {proc.stderr.read()}")
    return json.loads(line)


def test_imapflow_list_fetch_idle_push(server_factory):
    assert HAVE_IMAPFLOW, "imapflow missing: run scripts/install-deps"
    lmtp_port = free_port()
    srv = server_factory(extra_config=f"lmtp_listen = 127.0.0.1:{lmtp_port}")
    c = srv.raw()
    c.login("alice", "secret-pw")
    assert c.command("C1", 'CREATE "Lists/tidings"')[1].startswith("C1 OK")
    first = simple_message("first one", "Body of the first message.\r\n")
    assert append_message(c, "INBOX", first, flags="\\Seen").startswith("AP OK")
    c.close()

    proc = subprocess.Popen([NODE, SCRIPT, str(srv.imap_port), "alice", "secret-pw",
                             str(TIMEOUT * 1000)],
                            cwd=CLIENTS, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert read_json_line(proc, "IDLE") == {"event": "idling"}
        pushed = simple_message("pushed over lmtp", "Arrived while idling.\r\n")
        with smtplib.LMTP("127.0.0.1", lmtp_port, timeout=TIMEOUT) as s:
            assert s.sendmail("sender@example.org", ["alice@example.org"],
                              pushed.encode()) == {}
        result = read_json_line(proc, "the result")
        assert proc.wait(timeout=TIMEOUT) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()

    assert result["event"] == "result"
    # STARTTLS is offered on the plain port, and imapflow takes it.
    assert result["secure"] is True
    assert "IDLE" in result["capabilities"]
    assert {"INBOX", "Lists", "Lists/tidings"} <= set(result["mailboxes"])
    assert result["exists"] == 1
    f = result["first"]
    assert f["uid"] == 1
    # \Recent too under IMAP4rev1: this is the first session to see it.
    assert set(f["flags"]) - {"\\Recent"} == {"\\Seen"}
    assert f["subject"] == "first one"
    assert f["from"] == ["sender@example.org"]
    assert f["to"] == ["alice@example.org"]
    assert f["messageId"] == "<first.one@example.org>"
    assert f["source"] == first
    assert f["size"] == len(first)
    assert result["existsEvent"] == {"path": "INBOX", "count": 2, "prevCount": 1}
    assert result["pushed"] == {"uid": 2, "subject": "pushed over lmtp"}
    assert result["loggedOut"] is True
