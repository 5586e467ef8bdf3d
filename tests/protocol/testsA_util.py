"""Small helpers shared by test_session, test_mailboxes, test_badinput and
test_config_cli (they do not change conftest.py, the lead's file)."""
import base64
import re
import socket
import time

from conftest import TIMEOUT, RawImap

LIST_RE = re.compile(r'^\* (LIST|LSUB) \(([^)]*)\) (NIL|"(?:[^"\\]|\\.)") (.*)$')


def unquote(s):
    """An IMAP astring as the server wrote it (atom or quoted) -> str."""
    s = s.strip()
    if s.startswith('"') and s.endswith('"') and len(s) >= 2:
        return re.sub(r'\\(.)', r'\1', s[1:-1])
    return s


def parse_list(lines, kind="LIST"):
    """{name: (set of attributes in lower case, delimiter)} of LIST/LSUB lines."""
    out = {}
    for line in lines:
        m = LIST_RE.match(line)
        if not m or m.group(1) != kind:
            continue
        attrs = {a.lower() for a in m.group(2).split()}
        delim = None if m.group(3) == "NIL" else unquote(m.group(3))
        out[unquote(m.group(4))] = (attrs, delim)
    return out


def list_names(c, ref='""', pattern='"*"', tag="LS", kind="LIST", prefix=""):
    untagged, tagged = c.command(tag, f"{prefix}{kind} {ref} {pattern}")
    assert tagged.startswith(f"{tag} OK"), tagged
    return parse_list(untagged, kind)


def status(c, mailbox, items="MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN", tag="ST"):
    """STATUS as a dict of ints."""
    untagged, tagged = c.command(tag, f'STATUS "{mailbox}" ({items})')
    assert tagged.startswith(f"{tag} OK"), tagged
    lines = [l for l in untagged if l.startswith("* STATUS ")]
    assert len(lines) == 1, untagged
    m = re.search(r"\(([^()]*)\)\s*$", lines[0])
    assert m, lines[0]
    parts = m.group(1).split()
    return {parts[i].upper(): int(parts[i + 1]) for i in range(0, len(parts), 2)}


def select(c, mailbox, tag="SE", cmd="SELECT"):
    untagged, tagged = c.command(tag, f'{cmd} "{mailbox}"')
    assert tagged.startswith(f"{tag} OK"), (untagged, tagged)
    return untagged, tagged


def code_value(lines, code):
    """The number in "* OK [CODE n]" among lines, or None."""
    for l in lines:
        m = re.search(r"\[" + code + r" (\d+)\]", l)
        if m:
            return int(m.group(1))
    return None


def appenduid(tagged):
    """(uidvalidity, uid) of a tagged "OK [APPENDUID v u]", or None."""
    m = re.search(r"\[APPENDUID (\d+) (\d+)\]", tagged)
    return (int(m.group(1)), int(m.group(2))) if m else None


def sasl_plain(user, password, authzid=""):
    return base64.b64encode(f"{authzid}\0{user}\0{password}".encode()).decode()


def read_until_eof(c, timeout=None):
    """All remaining lines until the server closes; returns them."""
    lines = []
    try:
        while True:
            lines.append(c.read_literal_aware_line(timeout))
    except EOFError:
        return lines
    except ConnectionResetError:
        return lines


def is_closed(c, timeout=None):
    """True when the server closes the connection (EOF or reset) within the
    timeout, after any data still buffered."""
    c.sock.settimeout(timeout if timeout is not None else TIMEOUT)
    deadline = time.time() + (timeout if timeout is not None else TIMEOUT)
    try:
        while time.time() < deadline:
            data = c.sock.recv(65536)
            if not data:
                return True
            c.buf += data
    except ConnectionResetError:
        return True
    except (socket.timeout, TimeoutError):
        return False
    return False


def wait_port(port, proc=None, timeout=TIMEOUT):
    """Wait until something accepts on 127.0.0.1:port."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"process exited with {proc.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listening on port {port}")


def noop_ok(c, tag="NO1"):
    _, tagged = c.command(tag, "NOOP")
    assert tagged.startswith(f"{tag} OK"), tagged


def new_login(server, user="alice", password="secret-pw", tls=False):
    c = server.raw(tls=tls)
    c.login(user, password)
    return c
