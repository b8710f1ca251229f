"""A private Dovecot IMAP server for tests and benchmarks (Debian's `dovecot-imapd`, which
`scripts/setup --test` installs): own configuration, free loopback ports (plain/STARTTLS and
implicit TLS with a self-signed certificate), login from passwd-files, Maildirs in a temporary
directory owned by `nobody`. Stopped by its PID.

With `oauth2_introspection_url`, SASL XOAUTH2 and OAUTHBEARER are offered too: Dovecot's
`oauth2` passdb posts each token to that RFC 7662 endpoint and accepts it when the answer is
`active: true` for the signing-in username (tests/infra/oauth_server.py)."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared.kafka.local_broker import port_open
from tests.infra.ports import free_port

DOVECOT = Path("/usr/sbin/dovecot")

CONFIG = """\
instance_name = {instance}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = yes
ssl_cert = <{root}/server.pem
ssl_key = <{root}/server.key
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
mail_max_userip_connections = 200
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd.d/%u
}}
{oauth2_passdb}userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {tls_port}
  }}
}}
"""


OAUTH2_PASSDB = """\
auth_mechanisms = plain login xoauth2 oauthbearer
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/dovecot-oauth2.conf.ext
}}
"""

OAUTH2_CONFIG = """\
introspection_mode = post
introspection_url = {url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
"""


def write_self_signed_certificate(cert_path: Path, key_path: Path) -> None:
    """A certificate for 127.0.0.1 / localhost; clients trust it by naming `cert_path` as CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "touchpoint test IMAP")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_path.chmod(0o600)


@dataclass
class Dovecot:
    """Plain IMAP and STARTTLS on `port`, implicit TLS on `tls_port`; the certificate is
    self-signed (`ca_file`)."""

    root: Path
    port: int
    tls_port: int
    process: subprocess.Popen | None = None
    users: dict[str, str] = field(default_factory=dict)
    oauth2_introspection_url: str | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    @property
    def ca_file(self) -> Path:
        return self.root / "server.pem"

    def start(self, wait_seconds: float = 20) -> None:
        if not DOVECOT.exists():
            raise RuntimeError("Dovecot is not installed: run scripts/setup --test (it installs dovecot-imapd)")
        for sub in ("run", "state", "mail"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.root / "mail", "nobody", "nogroup")
        # one passwd-file per user: Dovecot notices a changed file by its mtime, which two
        # users added within one second would not change
        (self.root / "passwd.d").mkdir(exist_ok=True)
        write_self_signed_certificate(self.ca_file, self.root / "server.key")
        oauth2_passdb = ""
        if self.oauth2_introspection_url:
            (self.root / "dovecot-oauth2.conf.ext").write_text(OAUTH2_CONFIG.format(url=self.oauth2_introspection_url))
            oauth2_passdb = OAUTH2_PASSDB.format(root=self.root)
        config = self.root / "dovecot.conf"
        config.write_text(CONFIG.format(
            instance=f"tp-test-{uuid.uuid4().hex[:8]}", root=self.root, port=self.port, tls_port=self.tls_port,
            oauth2_passdb=oauth2_passdb))
        # a direct child, in the foreground, so that its PID is the one we stop
        self.process = subprocess.Popen(
            [str(DOVECOT), "-c", str(config), "-F"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + wait_seconds
        while not (port_open(self.port) and port_open(self.tls_port)):
            if self.process.poll() is not None:
                raise RuntimeError(f"Dovecot exited: {self.process.stderr.read().decode(errors='replace')}; see {self.root}/dovecot.log")  # type: ignore[union-attr]
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Dovecot did not listen on {self.port}; see {self.root}/dovecot.log")
            time.sleep(0.05)

    def add_user(self, name: str | None = None, password: str = "secret-pass") -> tuple[str, str]:
        """A new IMAP user with an empty mailbox; returns (username, password)."""
        name = name or f"u{uuid.uuid4().hex[:10]}"
        (self.root / "passwd.d" / name).write_text(f"{name}:{{PLAIN}}{password}\n")
        self.users[name] = password
        return name, password

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def start_dovecot(base_dir: Path, oauth2_introspection_url: str | None = None) -> Dovecot:
    server = Dovecot(root=base_dir / f"dovecot-{uuid.uuid4().hex[:6]}", port=free_port(), tls_port=free_port(),
                     oauth2_introspection_url=oauth2_introspection_url)
    server.start()
    return server
