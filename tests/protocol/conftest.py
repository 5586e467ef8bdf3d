"""Fixtures for the protocol tests: a real build/tidingsd on free loopback
ports with a temporary config and data directory, the real `tidings` CLI,
and a small raw IMAP client that speaks bytes (for pipelining, literals,
one-byte-at-a-time and bad-input tests).

Every process a test starts is stopped by the fixture; under ASan the
server's stderr is checked for sanitizer reports at teardown.
"""
import os
import re
import select
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import imaplib

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(ROOT, os.environ.get("TIDINGS_BUILD", "build"))
TIDINGSD = os.path.join(BUILD, "tidingsd")
TIDINGS = os.path.join(BUILD, "tidings")
ASAN = os.environ.get("TIDINGS_ASAN") == "1"
TIMEOUT = 30 if ASAN else 10


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running test (skipped in the ASan pass)")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class RawImap:
    """A byte-level IMAP client: send exactly what a test says, read lines."""

    def __init__(self, port, tls=False, timeout=TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock)
        self.timeout = timeout
        self.buf = b""
        self.greeting = self.readline()

    def starttls(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self, timeout=None):
        self.sock.settimeout(timeout if timeout is not None else self.timeout)
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("server closed the connection")
        self.buf += chunk

    def readline(self, timeout=None):
        while b"\r\n" not in self.buf:
            self._fill(timeout)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def read_literal_aware_line(self, timeout=None):
        """A response line with any literals it announces inlined."""
        line = self.readline(timeout)
        out = line
        while True:
            m = re.search(r"\{(\d+)\}$", line)
            if not m:
                return out
            n = int(m.group(1))
            while len(self.buf) < n:
                self._fill(timeout)
            data, self.buf = self.buf[:n], self.buf[n:]
            out += "\r\n" + data.decode("utf-8", "replace")
            line = self.readline(timeout)
            out += line

    def command(self, tag, text, timeout=None):
        """Send "tag text", return (untagged lines, tagged line)."""
        self.send(f"{tag} {text}\r\n")
        return self.until_tagged(tag, timeout)

    def until_tagged(self, tag, timeout=None):
        untagged = []
        while True:
            line = self.read_literal_aware_line(timeout)
            if line.startswith(tag + " "):
                return untagged, line
            untagged.append(line)

    def expect_nothing(self, wait=0.3):
        """Assert the server sends nothing for `wait` seconds."""
        self.sock.settimeout(wait)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return True
        self.buf += data
        return not data

    def login(self, user, password):
        _, tagged = self.command("L1", f'LOGIN "{user}" "{password}"')
        assert tagged.startswith("L1 OK"), tagged
        return tagged

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Server:
    def __init__(self, tmpdir, extra_config=""):
        self.dir = tmpdir
        self.data_dir = os.path.join(tmpdir, "data")
        self.imap_port = free_port()
        self.imaps_port = free_port()
        self.config_path = os.path.join(tmpdir, "tidings.conf")
        self.extra_config = extra_config
        self.proc = None
        self.stderr_path = os.path.join(tmpdir, "tidingsd.stderr")
        self.write_config()

    def write_config(self):
        with open(self.config_path, "w") as f:
            f.write(
                f"data_dir = {self.data_dir}\n"
                f"imap_listen = 127.0.0.1:{self.imap_port}\n"
                f"imaps_listen = 127.0.0.1:{self.imaps_port}\n"
                "log_level = debug\n"
                "auth_fail_delay_ms = 50\n"
                f"{self.extra_config}\n"
            )

    def cli(self, *args, input=None, check=True):
        r = subprocess.run([TIDINGS, "-c", self.config_path, *args], input=input,
                           capture_output=True, text=True, timeout=60)
        if check and r.returncode != 0:
            raise AssertionError(f"tidings {' '.join(args)} exited {r.returncode}: {r.stderr}")
        return r

    def add_user(self, name, password):
        self.cli("user", "add", name, input=password + "\n")

    def start(self):
        self.stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen([TIDINGSD, "-c", self.config_path],
                                     stdout=subprocess.DEVNULL, stderr=self.stderr)
        # Every listener the config names, not only IMAP's: tidingsd binds
        # IMAP first, so a test that talks LMTP or POP3 at once would
        # otherwise race the later binds.
        waiting = [("127.0.0.1", self.imap_port)]
        for m in re.finditer(r"^\s*(?:lmtp|pop3s?|imaps)_listen\s*=\s*(\S+)",
                             self.extra_config, re.M):
            value = m.group(1)
            if value.startswith("/"):
                waiting.append(value)
            elif ":" in value:
                host, _, port = value.rpartition(":")
                if port.isdigit():
                    waiting.append((host.strip("[]"), int(port)))
        deadline = time.time() + TIMEOUT
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("tidingsd exited at start: " + self.log())
            while waiting:
                target = waiting[0]
                try:
                    if isinstance(target, str):
                        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                        s.settimeout(1)
                        s.connect(target)
                        s.close()
                    else:
                        socket.create_connection(target, timeout=1).close()
                except OSError:
                    break
                waiting.pop(0)
            if not waiting:
                return
            time.sleep(0.05)
        raise AssertionError(f"tidingsd did not start listening on {waiting[0]}")

    def stop(self, sig=signal.SIGTERM, expect_code=0):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("tidingsd did not stop on signal")
        self.proc = None
        self.stderr.close()
        if expect_code is not None:
            assert code == expect_code, f"tidingsd exited {code}: {self.log()[-3000:]}"
        return code

    def kill9(self):
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
            self.stderr.close()

    def log(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def raw(self, tls=False):
        return RawImap(self.imaps_port if tls else self.imap_port, tls=tls)

    def imaplib(self, user="alice", password="secret-pw"):
        c = imaplib.IMAP4("127.0.0.1", self.imap_port, timeout=TIMEOUT)
        c.login(user, password)
        return c

    def check_sanitizers(self):
        text = self.log()
        bad = [l for l in text.splitlines()
               if "ERROR: AddressSanitizer" in l or "runtime error:" in l
               or "ERROR: LeakSanitizer" in l]
        assert not bad, "sanitizer report:\n" + text[-5000:]


@pytest.fixture
def server_factory():
    servers = []
    dirs = []

    def make(extra_config="", users=(("alice", "secret-pw"), ("bob", "bob-pw")), start=True):
        d = tempfile.mkdtemp(prefix="tidings-test-")
        dirs.append(d)
        srv = Server(d, extra_config)
        for name, pw in users:
            srv.add_user(name, pw)
        if start:
            srv.start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        if srv.proc is not None:
            died = srv.proc.poll()
            if died is not None:
                print(f"tidingsd had exited with {died} before the test ended")
            srv.stop(expect_code=None)
        # shown by pytest only when the test failed: the server's side
        print("---- tidingsd log (last 4000 characters) ----")
        print(srv.log()[-4000:])
        srv.check_sanitizers()
    for d in dirs:
        subprocess.run(["rm", "-rf", d])


@pytest.fixture
def server(server_factory):
    return server_factory()


@pytest.fixture
def client(server):
    c = server.raw()
    c.login("alice", "secret-pw")
    yield c
    c.close()


def append_message(c, mailbox, body, flags="", tag="AP"):
    """APPEND through a synchronising literal; returns the tagged line."""
    data = body.encode() if isinstance(body, str) else body
    fl = f"({flags}) " if flags else ""
    c.send(f'{tag} APPEND "{mailbox}" {fl}{{{len(data)}}}\r\n')
    cont = c.readline()
    assert cont.startswith("+"), cont
    c.send(data + b"\r\n")
    _, tagged = c.until_tagged(tag)
    return tagged


def simple_message(subject="Hello", body="Hello world.\r\n", sender="sender@example.org",
                   to="alice@example.org"):
    return (f"From: Sender <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: Mon, 23 Nov 2026 10:00:00 +0100\r\nMessage-ID: <{subject.replace(' ', '.')}@example.org>\r\n"
            f"\r\n{body}")
