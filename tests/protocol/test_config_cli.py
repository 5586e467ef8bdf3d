"""tidingsd configuration errors, disabled listeners, and the `tidings`
admin CLI (user add/list/passwd/del, mailbox list; exit statuses 0/1/2),
also while tidingsd runs (issue 3, §1; docs/configuration.md, docs/cli.md)."""
import os
import re
import signal
import socket
import ssl
import subprocess
import tempfile

import pytest

from conftest import TIDINGS, TIDINGSD, TIMEOUT, RawImap, append_message, simple_message
from testsA_util import new_login, noop_ok, status, wait_port


def run_tidingsd(config_path, timeout=TIMEOUT):
    """Run tidingsd on a config that must fail; returns the CompletedProcess."""
    try:
        return subprocess.run([TIDINGSD, "-c", config_path], capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError("tidingsd kept running on a bad configuration")


def config_with(srv, *extra_lines, replace=None):
    """Rewrite srv's config: the fixture's lines (with `replace` applied:
    {key: new full line or None to drop}) plus extra lines. Returns the
    1-based line number of the first extra line."""
    srv.write_config()
    with open(srv.config_path) as f:
        lines = f.read().splitlines()
    replace = dict(replace or {})
    out = []
    for line in lines:
        key = line.split("=", 1)[0].strip()
        if key in replace:
            new = replace.pop(key)
            if new is not None:
                out.append(new)
            continue
        out.append(line)
    while out and out[-1] == "":
        out.pop()
    # replacements for keys the fixture did not write are added at the end
    out.extend(v for v in replace.values() if v is not None)
    first = len(out) + 1
    out.extend(extra_lines)
    with open(srv.config_path, "w") as f:
        f.write("\n".join(out) + "\n")
    return first


def start_custom(srv, port):
    """Start srv's tidingsd (config already written) and wait for `port`;
    the fixture stops it."""
    srv.stderr = open(srv.stderr_path, "ab")
    srv.proc = subprocess.Popen([TIDINGSD, "-c", srv.config_path],
                                stdout=subprocess.DEVNULL, stderr=srv.stderr)
    wait_port(port, srv.proc)


def imap_login_result(srv, user, password):
    c = srv.raw()
    try:
        _, tagged = c.command("L", f'LOGIN "{user}" "{password}"')
        return tagged
    finally:
        c.close()


# ---- tidingsd configuration ----

def test_unknown_key_exit_2_names_file_and_line(server_factory):
    srv = server_factory(start=False)
    line = config_with(srv, "# a comment", "imap_lisen = 127.0.0.1:1")
    r = run_tidingsd(srv.config_path)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"{srv.config_path}:{line + 1}" in r.stderr, r.stderr
    assert "imap_lisen" in r.stderr, r.stderr
    # it did not start anything
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.imap_port), timeout=1).close()


@pytest.mark.parametrize("line", [
    "imap_listen = nonsense",
    "imaps_listen = 127.0.0.1:99999",
    "max_line_length = lots",
    "max_bad_commands = -1",
    "log_level = chatty",
    "plaintext_auth_loopback = perhaps",
    "idle_timeout = 60",          # RFC 3501 §5.4: at least 30 minutes
    "login_timeout = 0",
    "no equals sign here",
    "[nosuchsection]",
])
def test_bad_value_exit_2(server_factory, line):
    srv = server_factory(start=False, users=())
    key = line.split("=", 1)[0].strip()
    config_with(srv, replace={key: line})
    with open(srv.config_path) as f:
        lineno = f.read().splitlines().index(line) + 1
    r = run_tidingsd(srv.config_path)
    assert r.returncode == 2, (line, r.returncode, r.stderr)
    assert f"{srv.config_path}:{lineno}" in r.stderr, (line, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_duplicate_key_exit_2(server_factory):
    srv = server_factory(start=False, users=())
    line = config_with(srv, "log_level = info")  # the fixture set it already
    r = run_tidingsd(srv.config_path)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"{srv.config_path}:{line}" in r.stderr, r.stderr


def test_config_syntax_variants(server_factory):
    """BOM, CR LF line ends, comments, quoted values, blanks around '='."""
    srv = server_factory(start=False)
    srv.write_config()
    with open(srv.config_path) as f:
        lines = f.read().splitlines()
    out = ["# Tidings test configuration", ""]
    for line in lines:
        if not line.strip():
            continue
        key, value = (x.strip() for x in line.split("=", 1))
        if key == "log_level":
            out.append(f'\t{key}\t=  "{value}"   # quoted')
        else:
            out.append(f"{key}={value}")
    out.append("max_bad_commands = 7 # a comment after a blank")
    with open(srv.config_path, "wb") as f:
        f.write(b"\xef\xbb\xbf" + "\r\n".join(out).encode() + b"\r\n")
    start_custom(srv, srv.imap_port)
    c = new_login(srv)
    c.close()
    srv.stop()


def test_tidingsd_usage_error():
    r = subprocess.run([TIDINGSD, "--no-such-option"], capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 2, r
    assert "usage" in r.stderr


def test_missing_config_file(tmp_path):
    r = run_tidingsd(str(tmp_path / "nope.conf"))
    assert r.returncode in (1, 2), r
    assert "nope.conf" in r.stderr


def test_cli_bad_config_exit_2(server_factory):
    srv = server_factory(start=False, users=())
    line = config_with(srv, "bogus_key = 1")
    r = srv.cli("user", "list", check=False)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert f"{srv.config_path}:{line}" in r.stderr, r.stderr


def test_empty_imap_listen_disables_imap(server_factory):
    srv = server_factory(start=False)
    config_with(srv, replace={"imap_listen": "imap_listen ="})
    start_custom(srv, srv.imaps_port)
    c = srv.raw(tls=True)
    try:
        assert c.greeting.startswith("* OK"), c.greeting
        c.login("alice", "secret-pw")
        noop_ok(c)
    finally:
        c.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.imap_port), timeout=1).close()
    srv.stop()  # exit 0


def test_empty_imaps_listen_disables_imaps(server_factory):
    srv = server_factory(start=False)
    config_with(srv, replace={"imaps_listen": "imaps_listen ="})
    start_custom(srv, srv.imap_port)
    c = new_login(srv)
    c.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.imaps_port), timeout=1).close()
    srv.stop()


def test_listen_port_in_use_fails(server_factory):
    srv = server_factory(start=False, users=())
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    blocker.bind(("127.0.0.1", srv.imap_port))
    blocker.listen(1)
    try:
        r = run_tidingsd(srv.config_path)
        assert r.returncode != 0, r
        assert str(srv.imap_port) in r.stderr, r.stderr
    finally:
        blocker.close()


def test_self_signed_certificate_created(server):
    assert os.path.exists(os.path.join(server.data_dir, "tls", "cert.pem"))
    assert os.path.exists(os.path.join(server.data_dir, "tls", "key.pem"))
    c = server.raw(tls=True)
    c.close()


# ---- the CLI ----

def test_user_add_and_list(server_factory):
    srv = server_factory(start=False, users=())
    r = srv.cli("user", "add", "zed", input="zed-pw\n")
    assert r.stdout == "" and r.returncode == 0
    srv.cli("user", "add", "amy", input="amy-pw\r\n")  # CR LF stripped too
    srv.cli("user", "add", "mike", input="mike-pw\nignored second line\n")
    r = srv.cli("user", "list")
    assert r.stdout.splitlines() == ["amy", "mike", "zed"], r.stdout
    srv.start()
    for user, pw in (("amy", "amy-pw"), ("mike", "mike-pw"), ("zed", "zed-pw")):
        tagged = imap_login_result(srv, user, pw)
        assert tagged.startswith("L OK"), (user, tagged)
    assert imap_login_result(srv, "mike", "ignored second line").startswith("L NO")


def test_user_add_creates_default_mailboxes(server_factory):
    srv = server_factory(start=False, users=(("alice", "secret-pw"),))
    r = srv.cli("mailbox", "list", "alice")
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["MAILBOX", "ATTRIBUTES", "MESSAGES", "UNSEEN",
                                "UIDVALIDITY", "UIDNEXT"], lines
    rows = {l.split()[0]: l.split() for l in lines[1:]}
    assert set(rows) == {"INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive"}, rows
    assert rows["INBOX"][1] == "-"
    for name in ("Drafts", "Sent", "Trash", "Junk", "Archive"):
        assert rows[name][1] == "\\" + name, rows[name]
    for row in rows.values():
        assert row[2:4] == ["0", "0"] and row[5] == "1", row
        assert int(row[4]) > 0
    # sorted by name
    assert [l.split()[0] for l in lines[1:]] == sorted(rows)


def test_mailbox_list_counts(server):
    c = new_login(server)
    try:
        append_message(c, "INBOX", simple_message("a"))
        append_message(c, "INBOX", simple_message("b"), flags="\\Seen")
        append_message(c, "INBOX", simple_message("c"))
        c.command("C", 'CREATE "Lists/tidings"')
        st = status(c, "INBOX")
    finally:
        c.close()
    out = server.cli("mailbox", "list", "alice").stdout
    rows = {l.split()[0]: l.split() for l in out.splitlines()[1:]}
    assert rows["INBOX"][-4:] == ["3", "2", str(st["UIDVALIDITY"]), "4"], rows["INBOX"]
    assert "Lists/tidings" in rows and "Lists" in rows, rows


def test_mailbox_list_unknown_user(server):
    r = server.cli("mailbox", "list", "nosuch", check=False)
    assert r.returncode == 1, r
    assert "nosuch" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_user_passwd_while_running(server):
    # old password works, then passwd, then only the new one works
    assert imap_login_result(server, "alice", "secret-pw").startswith("L OK")
    server.cli("user", "passwd", "alice", input="brand-new-pw\n")
    tagged = imap_login_result(server, "alice", "secret-pw")
    assert tagged.startswith("L NO [AUTHENTICATIONFAILED]"), tagged
    assert imap_login_result(server, "alice", "brand-new-pw").startswith("L OK")
    # bob is unaffected
    assert imap_login_result(server, "bob", "bob-pw").startswith("L OK")


def test_user_passwd_unknown_user(server):
    r = server.cli("user", "passwd", "nosuch", input="pw\n", check=False)
    assert r.returncode == 1, r
    assert "nosuch" in r.stderr


def test_user_del_removes_user_and_files(server):
    c = new_login(server)
    try:
        for i in range(3):
            append_message(c, "INBOX", simple_message(f"m{i}"))
        append_message(c, "Sent", simple_message("sent"))
    finally:
        c.close()
    b = new_login(server, "bob", "bob-pw")
    try:
        append_message(b, "INBOX", simple_message("bob's"))
    finally:
        b.close()
    mail = os.path.join(server.data_dir, "mail")
    before = {os.path.join(r, f) for r, _, fs in os.walk(mail) for f in fs}
    assert len(before) >= 5, before
    server.cli("user", "del", "alice")
    after = {os.path.join(r, f) for r, _, fs in os.walk(mail) for f in fs}
    # exactly bob's message is left
    assert len(after) == 1, after
    assert after <= before
    assert server.cli("user", "list").stdout.splitlines() == ["bob"]
    tagged = imap_login_result(server, "alice", "secret-pw")
    assert tagged.startswith("L NO [AUTHENTICATIONFAILED]"), tagged
    b = new_login(server, "bob", "bob-pw")
    try:
        assert status(b, "INBOX")["MESSAGES"] == 1
    finally:
        b.close()
    r = server.cli("mailbox", "list", "alice", check=False)
    assert r.returncode == 1, r


def test_user_del_then_add_again_is_fresh(server):
    c = new_login(server)
    append_message(c, "INBOX", simple_message())
    v = status(c, "INBOX")["UIDVALIDITY"]
    c.close()
    server.cli("user", "del", "alice")
    server.add_user("alice", "second-life")
    c = new_login(server, "alice", "second-life")
    try:
        st = status(c, "INBOX")
        assert st["MESSAGES"] == 0
        assert st["UIDVALIDITY"] != v
    finally:
        c.close()


def test_user_add_while_running_logs_in_at_once(server):
    assert imap_login_result(server, "carol", "carol-pw").startswith("L NO")
    server.add_user("carol", "carol-pw")
    c = new_login(server, "carol", "carol-pw")
    try:
        st = status(c, "INBOX")
        assert st["MESSAGES"] == 0
        untagged, tagged = c.command("LS", 'LIST "" "*"')
        assert sum(1 for l in untagged if l.startswith("* LIST ")) == 6, untagged
    finally:
        c.close()
    assert server.cli("user", "list").stdout.splitlines() == ["alice", "bob", "carol"]


def test_user_del_while_logged_in(server):
    c = new_login(server)
    try:
        server.cli("user", "del", "alice")
        # the open session may be closed or get NO, but the server survives
        c.send(b"N NOOP\r\n")
        try:
            c.until_tagged("N")
        except (EOFError, ConnectionResetError):
            pass
    finally:
        c.close()
    assert imap_login_result(server, "bob", "bob-pw").startswith("L OK")
    assert server.proc.poll() is None


# ---- CLI errors ----

@pytest.mark.parametrize("args", [
    (),
    ("frobnicate",),
    ("user",),
    ("user", "remove", "alice"),
    ("user", "add"),
    ("user", "add", "a", "b"),
    ("user", "list", "extra"),
    ("mailbox", "list"),
    ("--bogus-option", "user", "list"),
])
def test_cli_usage_error(server_factory, args):
    server = server_factory(start=False, users=(("alice", "secret-pw"),))
    r = server.cli(*args, check=False)
    assert r.returncode == 2, (args, r.returncode, r.stderr)
    err = r.stderr.strip()
    assert err and len(err.splitlines()) == 1, (args, r.stderr)
    assert "usage" in err or "try" in err, err
    assert r.stdout == ""


def test_cli_help(server):
    r = server.cli("help")
    assert "user add" in r.stdout and "mailbox list" in r.stdout


def test_cli_add_existing_user_fails(server):
    r = server.cli("user", "add", "alice", input="whatever\n", check=False)
    assert r.returncode == 1, r
    assert "alice" in r.stderr and "exist" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    # the old password still works
    assert imap_login_result(server, "alice", "secret-pw").startswith("L OK")


def test_cli_del_unknown_user_fails(server):
    r = server.cli("user", "del", "nosuch", check=False)
    assert r.returncode == 1, r
    assert "nosuch" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("name, pw", [
    ("empty", ""),
    ("", "pw"),
    ("has space", "pw"),
    ("nul", "a\0b"),
])
def test_cli_add_refuses_bad_input(server, name, pw):
    r = server.cli("user", "add", name, input=pw + "\n", check=False)
    assert r.returncode in (1, 2), (name, r)
    assert r.stderr.strip()
    assert name == "" or name not in server.cli("user", "list").stdout.splitlines()


def test_cli_without_store_refuses(tmp_path):
    conf = tmp_path / "t.conf"
    conf.write_text(f"data_dir = {tmp_path / 'nodata'}\n")
    r = subprocess.run([TIDINGS, "-c", str(conf), "user", "list"], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1, r
    assert not (tmp_path / "nodata").exists()
