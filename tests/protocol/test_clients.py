"""Real clients against the real server: mbsync (isync) syncing both ways,
offlineimap3 full and incremental sync, Python's imaplib."""
import os
import shutil
import subprocess
import time

import pytest

from conftest import simple_message

MBSYNC = shutil.which("mbsync")
OFFLINEIMAP = shutil.which("offlineimap")


def seed(server, n, mailbox="INBOX"):
    c = server.imaplib()
    for i in range(n):
        typ, _ = c.append(mailbox, None, None, simple_message(f"seed {i}").encode())
        assert typ == "OK"
    c.logout()


def maildir_files(path):
    out = []
    for sub in ("cur", "new"):
        d = os.path.join(path, sub)
        if os.path.isdir(d):
            out += [os.path.join(d, f) for f in os.listdir(d)]
    return sorted(out)


def test_imaplib_roundtrip(server):
    c = server.imaplib()
    typ, data = c.list()
    assert typ == "OK"
    names = b" ".join(data)
    for box in (b"INBOX", b"Drafts", b"Sent", b"Trash", b"Junk", b"Archive"):
        assert box in names
    msg = simple_message("imaplib").encode()
    assert c.append("INBOX", r"(\Flagged)", None, msg)[0] == "OK"
    typ, data = c.select("INBOX")
    assert typ == "OK" and data[0] == b"1"
    typ, data = c.fetch("1", "(FLAGS BODY.PEEK[])")
    assert typ == "OK"
    assert b"\\Flagged" in data[0][0]
    assert data[0][1] == msg
    typ, data = c.uid("SEARCH", None, "SUBJECT", "imaplib")
    assert typ == "OK" and data[0].split() == [b"1"]
    c.logout()


def mbsync_config(server, tmp, maildir):
    cert = os.path.join(server.data_dir, "tls", "cert.pem")
    conf = os.path.join(tmp, "mbsyncrc")
    with open(conf, "w") as f:
        f.write(f"""IMAPAccount t
Host 127.0.0.1
Port {server.imaps_port}
User alice
Pass secret-pw
SSLType IMAPS
CertificateFile {cert}
AuthMechs PLAIN

IMAPStore remote
Account t

MaildirStore local
Path {maildir}/
Inbox {maildir}/INBOX
SubFolders Verbatim

Channel c
Far :remote:
Near :local:
Patterns INBOX Archive
Create Both
Expunge Both
SyncState *
""")
    return conf


def run_mbsync(conf):
    r = subprocess.run([MBSYNC, "-c", conf, "-a"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def server_flags(server, mailbox="INBOX"):
    c = server.imaplib()
    c.select(mailbox)
    typ, data = c.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    res = {}
    for item in data:
        if isinstance(item, tuple):
            subj = item[1].decode().strip().replace("Subject: ", "")
            res[subj] = item[0].decode()
    c.logout()
    return res


@pytest.mark.skipif(MBSYNC is None, reason="isync not installed")
def test_mbsync_two_way(server, tmp_path):
    seed(server, 3)
    maildir = tmp_path / "mail"
    maildir.mkdir()
    conf = mbsync_config(server, str(tmp_path), str(maildir))
    run_mbsync(conf)
    inbox = str(maildir / "INBOX")
    files = maildir_files(inbox)
    assert len(files) == 3

    # Local side: a new message, a flag change, a deletion.
    new = os.path.join(inbox, "new", f"{int(time.time())}.local.test")
    with open(new, "wb") as f:
        f.write(simple_message("from local").encode())
    flagged = None
    deleted = None
    for path in files:
        with open(path, "rb") as f:
            text = f.read()
        if b"seed 0" in text:
            flagged = path
        if b"seed 1" in text:
            deleted = path
    base, _, info = flagged.partition(":2,")
    os.rename(flagged, base + ":2," + "".join(sorted(set(info + "F"))))
    os.unlink(deleted)
    run_mbsync(conf)

    flags = server_flags(server)
    assert "from local" in flags
    assert "\\Flagged" in flags["seed 0"]
    assert "seed 1" not in flags

    # Server side: flag, delete, add; the next sync brings them down.
    c = server.imaplib()
    c.select("INBOX")
    typ, data = c.search(None, "SUBJECT", '"seed 2"')
    seq = data[0].split()[0]
    c.store(seq, "+FLAGS", "(\\Seen \\Answered)")
    typ, data = c.search(None, "SUBJECT", '"from local"')
    c.store(data[0].split()[0], "+FLAGS", "(\\Deleted)")
    c.expunge()
    c.append("INBOX", None, None, simple_message("from server").encode())
    c.logout()
    run_mbsync(conf)
    texts = {}
    for path in maildir_files(inbox):
        with open(path, "rb") as f:
            texts[path] = f.read()
    subjects = [t for t in texts.values()]
    assert any(b"from server" in t for t in subjects)
    assert not any(b"from local" in t for t in subjects)
    seed2 = [p for p, t in texts.items() if b"seed 2" in t][0]
    assert "S" in seed2.split(":2,")[1] and "R" in seed2.split(":2,")[1]


@pytest.mark.skipif(OFFLINEIMAP is None, reason="offlineimap3 not installed")
def test_offlineimap_full_then_incremental(server, tmp_path):
    seed(server, 4)
    conf = tmp_path / "offlineimaprc"
    conf.write_text(f"""[general]
accounts = t
metadata = {tmp_path}/meta

[Account t]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {tmp_path}/mail

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = {server.imap_port}
remoteuser = alice
remotepass = secret-pw
ssl = no
starttls = no
folderfilter = lambda f: f in ['INBOX', 'Archive']
""")

    def sync():
        r = subprocess.run([OFFLINEIMAP, "-c", str(conf), "-o", "-u", "basic"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout + r.stderr

    out = sync()
    assert len(maildir_files(str(tmp_path / "mail" / "INBOX"))) == 4
    assert out.count("Copy message") == 4, out

    c = server.imaplib()
    c.append("INBOX", None, None, simple_message("incremental").encode())
    c.logout()
    out = sync()
    # Only the one new message travels the second time.
    assert out.count("Copy message") == 1, out
    files = maildir_files(str(tmp_path / "mail" / "INBOX"))
    assert len(files) == 5
