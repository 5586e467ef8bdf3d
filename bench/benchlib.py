"""Shared parts of the benchmarks in bench/: start Tidings and Dovecot with
temporary configurations on free loopback ports, make users, generate test
messages, a small synchronous IMAP client for set-up and checks.

Standard library only; run with /usr/bin/python3. Every process started here
is stopped by Servers.stop_all(), which the benchmarks call from `finally`.
"""
import os
import pwd
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BENCH_USER = "tidingsbench"
PASSWORD = "bench-pw"
START_TIMEOUT = 20


class BenchError(Exception):
    pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, name, logfn):
    deadline = time.time() + START_TIMEOUT
    while time.time() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{name} exited at start (status {proc.returncode}):\n{logfn()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise BenchError(f"{name} did not start listening on {port}:\n{logfn()}")


def tail(path, n=3000):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - n))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"


def install_signal_handlers():
    """SIGTERM/SIGHUP become KeyboardInterrupt so `finally` blocks run."""
    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGHUP, handler)


def user_names(n):
    return [f"bench{i:03d}" for i in range(1, n + 1)]


WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo "
     "lima mike november oscar papa quebec romeo sierra tango uniform victor "
     "whiskey xray yankee zulu invoice meeting report budget release server "
     "message mailbox delivery queue network storage backup review schedule").split()


def make_message(i, size=4096, rng=None):
    """A plain RFC 5322 message of about `size` bytes, CRLF line ends, no
    line starting with a dot. Subject carries topic-K for SEARCH."""
    rng = rng or random.Random(i)
    topic = i % 50
    sender = f"sender{i % 97}@example.net"
    hdr = (f"From: Sender {i % 97} <{sender}>\r\n"
           f"To: Bench <bench@example.org>\r\n"
           f"Subject: topic-{topic} {rng.choice(WORDS)} {rng.choice(WORDS)} #{i}\r\n"
           f"Date: Mon, 1 Jan 2024 {i % 24:02d}:{i % 60:02d}:00 +0000\r\n"
           f"Message-ID: <bench-{i}-{rng.randrange(1 << 30)}@example.net>\r\n"
           "MIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=us-ascii\r\n"
           "\r\n")
    lines = []
    total = len(hdr)
    while total < size:
        line = " ".join(rng.choice(WORDS) for _ in range(11))
        lines.append(line)
        total += len(line) + 2
    return (hdr + "\r\n".join(lines) + "\r\n").encode()


class SyncImap:
    """A tiny blocking IMAP client for set-up and verification."""

    def __init__(self, port, timeout=60):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.n = 0
        self.greeting = self.readline()

    def readline(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise BenchError("server closed the IMAP connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_response(self):
        line = self.readline()
        while True:
            m = re.search(rb"\{(\d+)\}$", line)
            if not m:
                return line
            n = int(m.group(1))
            while len(self.buf) < n:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise BenchError("server closed the IMAP connection")
                self.buf += chunk
            line += b"\r\n" + self.buf[:n]
            self.buf = self.buf[n:]
            line += self.readline()

    def command(self, text, literal=None):
        self.n += 1
        tag = f"s{self.n}".encode()
        if literal is None:
            self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        else:
            self.sock.sendall(tag + b" " + text.encode() + b" {%d}\r\n" % len(literal))
            while True:
                line = self.read_response()
                if line.startswith(b"+"):
                    break
                if line.startswith(tag + b" "):
                    raise BenchError(f"{text}: {line!r}")
            self.sock.sendall(literal + b"\r\n")
        untagged = []
        while True:
            line = self.read_response()
            if line.startswith(tag + b" "):
                if not line[len(tag) + 1:].startswith(b"OK"):
                    raise BenchError(f"{text}: {line.decode('utf-8', 'replace')}")
                return untagged
            untagged.append(line)

    def login(self, user, password):
        self.command(f'LOGIN "{user}" "{password}"')

    def status_messages(self, mailbox="INBOX"):
        for line in self.command(f'STATUS "{mailbox}" (MESSAGES)'):
            m = re.search(rb"MESSAGES (\d+)", line)
            if m:
                return int(m.group(1))
        raise BenchError("no STATUS MESSAGES in the response")

    def close(self):
        try:
            self.sock.sendall(b"z LOGOUT\r\n")
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def count_messages(port, users):
    """Messages in each user's INBOX, counted with IMAP STATUS."""
    counts = {}
    for u in users:
        c = SyncImap(port)
        try:
            c.login(u, PASSWORD)
            counts[u] = c.status_messages()
        finally:
            c.close()
    return counts


class ServerBase:
    name = "?"

    def __init__(self, top):
        self.dir = os.path.join(top, self.name.lower())
        os.makedirs(self.dir)
        os.chmod(self.dir, 0o755)
        self.imap_port = free_port()
        self.lmtp_port = free_port()
        self.proc = None
        self.log_path = os.path.join(self.dir, "server.log")

    def log(self):
        return tail(self.log_path)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Stop the server; returns its exit status (None if not started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait()
        self.proc = None
        return code


class Tidings(ServerBase):
    name = "Tidings"

    def __init__(self, top, build):
        super().__init__(top)
        self.build = build
        self.tidingsd = os.path.join(build, "tidingsd")
        self.tidings = os.path.join(build, "tidings")
        for b in (self.tidingsd, self.tidings):
            if not os.access(b, os.X_OK):
                raise BenchError(f"{b} not found: run `make build` first")
        self.config = os.path.join(self.dir, "tidings.conf")
        with open(self.config, "w") as f:
            f.write(f"data_dir = {os.path.join(self.dir, 'data')}\n"
                f"imap_listen = 127.0.0.1:{self.imap_port}\n"
                "imaps_listen =\n"
                f"lmtp_listen = 127.0.0.1:{self.lmtp_port}\n"
                "log_level = warn\n"
                "server_name = bench.localhost\n"
                "default_mailboxes =\n"
                "max_connections_per_ip = 10000\n")

    def add_users(self, users):
        for u in users:
            r = subprocess.run([self.tidings, "-c", self.config, "user", "add", u],
                       input=PASSWORD + "\n", capture_output=True, text=True,
                       timeout=60)
            if r.returncode != 0:
                raise BenchError(f"tidings user add {u}: {r.stderr}")

    def start(self):
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.tidingsd, "-c", self.config],
                         stdin=subprocess.DEVNULL, stdout=self.logf,
                         stderr=self.logf, start_new_session=True)
        wait_port(self.imap_port, self.proc, "tidingsd", self.log)
        wait_port(self.lmtp_port, self.proc, "tidingsd", self.log)

    def stop(self):
        code = super().stop()
        if getattr(self, "logf", None):
            self.logf.close()
            self.logf = None
        return code


class Dovecot(ServerBase):
    name = "Dovecot"

    def __init__(self, top, mail_format="sdbox"):
        super().__init__(top)
        self.binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        if not os.access(self.binary, os.X_OK):
            raise BenchError("dovecot not found: run bench/install-dovecot first")
        try:
            pw = pwd.getpwnam(BENCH_USER)
        except KeyError:
            if os.geteuid() != 0:
                raise BenchError(f"user {BENCH_USER} missing: run bench/install-dovecot")
            subprocess.run(["useradd", "-r", "-M", "-d", "/nonexistent", "-s",
                    "/usr/sbin/nologin", BENCH_USER], check=True)
            pw = pwd.getpwnam(BENCH_USER)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.mail_format = mail_format
        self.base_dir = os.path.join(self.dir, "run")
        self.mail_dir = os.path.join(self.dir, "mail")
        os.makedirs(self.mail_dir)
        if os.geteuid() == 0:
            os.chown(self.mail_dir, self.uid, self.gid)
        self.passwd = os.path.join(self.dir, "passwd")
        open(self.passwd, "w").close()
        os.chmod(self.passwd, 0o644)
        self.config = os.path.join(self.dir, "dovecot.conf")
        d = self.dir
        with open(self.config, "w") as f:
            f.write(f"""# Temporary configuration written by bench/benchlib.py
base_dir = {self.base_dir}
state_dir = {os.path.join(d, 'state')}
instance_name = tidings-bench-{os.getpid()}
protocols = imap lmtp
listen = 127.0.0.1
log_path = {self.log_path}
# Tidings runs with log_level = warn: keep Dovecot's per-login/per-delivery
# info lines out of the measurement too.
info_log_path = /dev/null
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = {self.uid}
first_valid_gid = 0
mail_location = {mail_format}:{self.mail_dir}/%u
mail_fsync = always
mail_max_userip_connections = 10000
default_process_limit = 1000
default_client_limit = 10000
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.passwd}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
  # Dovecot's documented high-performance login mode.
  service_count = 0
  process_min_avail = {os.cpu_count() or 1}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {self.lmtp_port}
  }}
}}
protocol imap {{
  mail_max_userip_connections = 10000
}}
""")

    def add_users(self, users):
        home = self.mail_dir
        with open(self.passwd, "a") as f:
            for u in users:
                f.write(f"{u}:{{PLAIN}}{PASSWORD}:{self.uid}:{self.gid}::{home}/{u}::\n")

    def start(self):
        self.stdout = open(os.path.join(self.dir, "dovecot.stdout"), "ab")
        self.proc = subprocess.Popen([self.binary, "-c", self.config, "-F"],
                         stdin=subprocess.DEVNULL, stdout=self.stdout,
                         stderr=self.stdout, start_new_session=True)
        logfn = lambda: self.log() + tail(os.path.join(self.dir, "dovecot.stdout"))
        wait_port(self.imap_port, self.proc, "dovecot", logfn)
        wait_port(self.lmtp_port, self.proc, "dovecot", logfn)

    def stop(self):
        pgid = self.proc.pid if self.proc is not None else None
        code = super().stop()
        # The master takes its children down; make sure of it (they share
        # the process group we gave the master).
        if pgid is not None:
            deadline = time.time() + 10
            while time.time() < deadline:
                try:
                    os.killpg(pgid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                try:
                    os.killpg(pgid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if getattr(self, "stdout", None):
            self.stdout.close()
            self.stdout = None
        return code


class Servers:
    """Both servers in one temporary directory."""

    def __init__(self, args, users):
        self.top = tempfile.mkdtemp(prefix="tidings-bench-", dir=args.tmpdir)
        os.chmod(self.top, 0o755)
        self.keep = args.keep
        self.list = []
        build = args.build or os.environ.get("TIDINGS_BUILD", "build")
        if not os.path.isabs(build):
            build = os.path.join(ROOT, build)
        only = getattr(args, "only", None)
        try:
            if only != "dovecot":
                self.list.append(Tidings(self.top, build))
            if only != "tidings":
                self.list.append(Dovecot(self.top, args.dovecot_format))
            for s in self.list:
                s.add_users(users)
        except BaseException:
            shutil.rmtree(self.top, ignore_errors=True)
            raise

    def start_all(self):
        for s in self.list:
            s.start()

    def stop_all(self):
        problems = []
        for s in self.list:
            try:
                code = s.stop()
            except Exception as e:  # keep stopping the others
                problems.append(f"{s.name}: stop failed: {e}")
                continue
            if code not in (None, 0):
                problems.append(f"{s.name} exited with status {code}; log tail:\n{s.log()}")
        if self.keep:
            print(f"kept {self.top}", file=sys.stderr)
        else:
            shutil.rmtree(self.top, ignore_errors=True)
        return problems


def add_common_args(p):
    p.add_argument("--build", help="Tidings build directory (default $TIDINGS_BUILD or build)")
    p.add_argument("--tmpdir", help="where the temporary directory goes (default $TMPDIR or /tmp)")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (configs, logs, data)")
    p.add_argument("--dovecot-format", default="sdbox", choices=("sdbox", "maildir", "mdbox"),
               help="Dovecot mail_location format (default sdbox)")
    p.add_argument("--only", choices=("tidings", "dovecot"), help="benchmark one server only")


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100.0 * (len(sorted_values) - 1)))))
    return sorted_values[k]
