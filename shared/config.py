"""Touchpoint's configuration: `TOUCHPOINT_*` environment variables plus an optional TOML file
named by `TOUCHPOINT_CONFIG` (mailboxes, webhook secrets, SLA policies and calendars, routing
rules). Loaded once at start-up by `load_settings()` and passed explicitly from there on.

Environment variables win over the file. Unknown keys in the file are an error that names the
key. Every secret may be given inline or as a `<name>_file` path whose contents are used."""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from shared.privacy.retention import check_pattern, parse_duration
from shared.redaction import hide_url_password, safe_url

PLACEHOLDER_SECRETS = {"...", "changeme", "change-me", "secret", "password", "token"}
# a secret containing one of these is a placeholder from an example or the demo
PLACEHOLDER_WORDS = ("replace", "example", "changeme", "demo")
MIN_SECRET_CHARS = 32
# secrets that providers or mail admins issue: their length is not ours to choose
ISSUED_ELSEWHERE = re.compile(r"^(mailboxes\[\d+\]\.password|smtp\.password|webhooks\.twilio\.auth_token|"
                              r"webhooks\.shipping\.(aftership|easypost)\.secret)$")


class ConfigError(ValueError):
    """The configuration is unusable; the message names the key and what to do."""


class Section(BaseModel):
    """A TOML table: unknown keys are errors, and `x_file = "path"` fills secret `x`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _read_secret_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for key in [k for k in data if k.endswith("_file")]:
            target = key.removesuffix("_file")
            if target not in cls.model_fields:
                continue
            path = Path(data.pop(key)).expanduser()
            try:
                data[target] = path.read_text().strip()
            except OSError as exc:
                raise ValueError(f"{key}: cannot read {path}: {exc.strerror}") from None
        return data


# ---- OAuth 2.0 sign-in (mailboxes and SMTP) ------------------------------------------------

OAUTH2_KEYS = (
    "provider", "tenant", "token_url", "authorize_url", "device_authorization_url", "client_id", "client_secret",
    "refresh_token_file", "scopes",
)


class OAuth2SignIn(Section):
    """`auth = "oauth2"`: SASL XOAUTH2 with an access token from the provider's token endpoint.
    Without `refresh_token_file` the app signs in on its own (client credentials, Microsoft's
    app-only access); with it, as the user who gave consent (`touchpoint mailbox authorize`)."""

    auth: Literal["password", "oauth2"] = "password"
    provider: Literal["microsoft", "google", "generic"] | None = None
    tenant: str | None = Field(default=None, description="microsoft: the directory, e.g. contoso.onmicrosoft.com")
    token_url: str | None = Field(default=None, description="generic; for microsoft/google: another cloud's endpoint")
    authorize_url: str | None = Field(default=None, description="generic: the consent page (authorization code flow)")
    device_authorization_url: str | None = Field(default=None, description="generic: the device-code endpoint")
    client_id: str | None = None
    client_secret: SecretStr | None = None
    refresh_token_file: Path | None = Field(default=None, description="the user's refresh token (consent flows)")
    scopes: list[str] = Field(default_factory=list, description="empty: the provider's usual mail scopes")
    redirect_uri: str = Field(default="http://localhost", description="authorization code flow: where consent returns")

    @property
    def uses_oauth2(self) -> bool:
        return self.auth == "oauth2"

    @property
    def app_only(self) -> bool:
        """Client credentials: no user, no refresh token (Microsoft's IMAP.AccessAsApp)."""
        return self.refresh_token_file is None

    @model_validator(mode="after")
    def _oauth2_complete(self) -> OAuth2SignIn:
        if self.auth == "password":
            given = [key for key in OAUTH2_KEYS if getattr(self, key) not in (None, [])]
            if given:
                raise ValueError(f"{', '.join(given)} need auth = \"oauth2\" (auth is \"password\")")
            return self
        missing = [key for key in ("provider", "client_id") if getattr(self, key) is None]
        if self.provider == "microsoft" and not (self.tenant or self.token_url):
            missing.append("tenant")
        if self.provider == "generic" and not self.token_url:
            missing.append("token_url")
        if self.provider == "google" and self.refresh_token_file is None:
            missing.append("refresh_token_file (Google has no app-only IMAP access)")
        if missing:
            raise ValueError(f"auth = \"oauth2\" needs {', '.join(missing)}")
        for key in ("token_url", "authorize_url", "device_authorization_url"):
            url = getattr(self, key)
            if url and not (url.startswith("https://") or _loopback_http(url)):
                raise ValueError(f"{key}: secrets and tokens travel here, so it must be https:// (http only on loopback)")
        return self


def _loopback_http(url: str) -> bool:
    return re.match(r"^http://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$)", url) is not None


# ---- mailboxes ------------------------------------------------------------------------------


class Mailbox(OAuth2SignIn):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    host: str
    port: int = 993
    security: Literal["tls", "starttls", "plain"] = "tls"
    tls_ca_file: Path | None = Field(default=None, description="PEM CA certificate(s) to trust instead of the system's")
    username: str
    password: SecretStr | None = Field(default=None, description="auth = \"password\" (the default) only")
    folders: dict[str, Literal["incoming", "outgoing"]] = Field(default_factory=lambda: {"INBOX": "incoming"})
    poll_interval: float = Field(default=60.0, gt=0, description="seconds between polls without IDLE")
    idle: bool = True
    import_since: str | None = Field(default=None, description="ISO date: older mail is not imported")
    historic_before: str | None = Field(
        default=None,
        description="ISO date: mail older than this is marked historic (no SLAs); default: the folder's first sync",
    )

    @model_validator(mode="after")
    def _password_when_signing_in_with_one(self) -> Mailbox:
        if self.auth == "password" and self.password is None:
            raise ValueError(f"mailbox {self.name}: password (or password_file) is missing; or set auth = \"oauth2\"")
        if self.auth == "oauth2" and self.password is not None:
            raise ValueError(f"mailbox {self.name}: auth = \"oauth2\" signs in with a token: remove password")
        return self

    @model_validator(mode="after")
    def _plain_only_on_loopback(self) -> Mailbox:
        if self.security == "plain" and self.host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"mailbox {self.name}: security = \"plain\" is only allowed for a loopback host")
        return self


# ---- webhooks -------------------------------------------------------------------------------


class CtiWebhook(Section):
    token: SecretStr | None = None
    require_sipgate_signature: bool = False
    sipgate_public_key: str | None = Field(default=None, description="PEM; sipgate's published key")


class TwilioWebhook(Section):
    auth_token: SecretStr
    public_base_url: str


class FormWebhook(Section):
    required: list[str] = Field(default_factory=lambda: ["email", "message"])
    topic: str | None = None
    secret: SecretStr = SecretStr("")
    allowed_origins: list[str] = Field(default_factory=list)
    honeypot: str | None = "website"
    rate_limit_per_minute: int = Field(default=10, ge=0)
    consent_field: str | None = None
    # consent per purpose from this form's fields (see services/ingest/webforms/consent.py)
    consent: dict[str, str] = Field(default_factory=dict, description="purpose -> the form field that carries it")
    consent_text_version: str | None = Field(default=None, description="version of the consent text the form shows")
    consent_withdrawable: list[str] = Field(
        default_factory=list, description="purposes an explicit no in their field withdraws")

    @model_validator(mode="after")
    def _consent_is_complete(self) -> FormWebhook:
        if self.consent and not self.consent_text_version:
            raise ValueError("consent_text_version: required when the form records consent (e.g. \"2026-01\")")
        unknown = [p for p in self.consent_withdrawable if p not in self.consent]
        if unknown:
            raise ValueError(f"consent_withdrawable: {unknown} have no field in consent")
        return self


class ShippingWebhook(Section):
    secret: SecretStr


class Webhooks(Section):
    cti: CtiWebhook | None = None
    twilio: TwilioWebhook | None = None
    forms: dict[str, FormWebhook] = Field(default_factory=dict)
    shipping: dict[Literal["aftership", "easypost", "generic"], ShippingWebhook] = Field(default_factory=dict)
    max_body_bytes: int = Field(default=1_048_576, gt=0)


# ---- agent API auth -------------------------------------------------------------------------


class AuthToken(Section):
    token: SecretStr
    user: str
    role: Literal["agent", "lead", "ops", "admin"] = "agent"
    extension: str | None = None
    team: str | None = None
    language: Literal["de", "en"] = "en"


class OidcSignIn(Section):
    """Sign-in through the company's OpenID Connect provider, for users of `touchpoint users`."""

    issuer: str = Field(description="the provider's issuer URL; its discovery document is read from there")
    client_id: str
    client_secret: SecretStr | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid", "profile", "email"])
    user_claim: str = Field(default="preferred_username", description="the ID token claim naming the user")
    label: str = Field(default="company sign-on", description="shown on the login button")

    @model_validator(mode="after")
    def _secure_issuer(self) -> OidcSignIn:
        if not (self.issuer.startswith("https://") or _loopback_http(self.issuer)):
            raise ValueError("issuer: tokens travel there, so it must be https:// (http only on loopback)")
        return self


class Auth(Section):
    tokens: list[AuthToken] = Field(default_factory=list)
    session_secret: SecretStr | None = None
    oidc: OidcSignIn | None = None


# ---- SLA ------------------------------------------------------------------------------------


class Calendar(Section):
    name: str
    timezone: str | None = None
    hours: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], list[str]] = Field(default_factory=dict)
    holidays: list[str] = Field(default_factory=list)
    holidays_ical: Path | None = None


class SlaPolicy(Section):
    name: str
    calendar: str = "24/7"
    first_response: str
    resolution: str
    warn_at: list[str] = Field(default_factory=lambda: ["80%"])
    version: int = Field(default=1, ge=1)
    priorities: list[str] = Field(default_factory=list, description="empty: any priority")
    segments: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    pause_states: list[str] = Field(default_factory=lambda: ["waiting_for_customer"])


class ComplaintMailRule(Section):
    to: list[str] = Field(default_factory=list)
    subject_pattern: str | None = None
    keywords: list[str] = Field(default_factory=list)
    priority: Literal["low", "normal", "high", "urgent"] = "normal"
    team: str | None = None

    @model_validator(mode="after")
    def _matches_something(self) -> ComplaintMailRule:
        if not (self.to or self.subject_pattern or self.keywords):
            raise ValueError("a complaint mail rule needs at least one of to, subject_pattern, keywords")
        if self.subject_pattern is not None:
            try:
                re.compile(self.subject_pattern)
            except re.error as exc:
                raise ValueError(f"subject_pattern {self.subject_pattern!r} is not a valid regular expression: {exc}") from None
        return self


class Sla(Section):
    timezone: str = "UTC"
    calendars: list[Calendar] = Field(default_factory=list)
    policies: list[SlaPolicy] = Field(default_factory=list)
    complaint_mail_rules: list[ComplaintMailRule] = Field(default_factory=list)
    reopen_within_days: int = Field(default=14, ge=0)
    first_response_counts: list[Literal["email", "call", "agent"]] = Field(
        default_factory=lambda: ["email", "call", "agent"]
    )
    complaint_call_queues: list[str] = Field(
        default_factory=list, description="an answered inbound call in one of these queues opens a complaint"
    )


# ---- notifier -------------------------------------------------------------------------------


class Smtp(OAuth2SignIn):
    host: str
    port: int = 587
    security: Literal["tls", "starttls", "plain"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None

    @model_validator(mode="after")
    def _oauth2_needs_the_account(self) -> Smtp:
        if self.auth == "oauth2" and not self.username:
            raise ValueError("smtp: auth = \"oauth2\" needs username (the account that sends)")
        return self
    sender: str
    timeout: float = 30.0
    ca_file: Path | None = Field(default=None, description="PEM bundle to trust (a private relay's CA)")


class RoutingRule(Section):
    name: str | None = None
    match: dict[str, Any] = Field(default_factory=dict)
    email: list[str] = Field(default_factory=list)
    webhook: list[str] = Field(default_factory=list)
    level: int = Field(default=1, ge=1)
    delay: str | None = Field(default=None, description='e.g. "2h" after the trigger (multi-level escalation)')
    outside_hours: Literal["send", "hold", "on_call"] = "send"
    on_call_email: list[str] = Field(default_factory=list)
    calendar: str | None = None
    language: Literal["de", "en"] = "en"


class Routing(Section):
    rules: list[RoutingRule] = Field(default_factory=list)


class Notifier(Section):
    """Trigger thresholds and delivery retries of the notifier."""

    unanswered_contacts: int = Field(default=3, ge=1, description="N inbound contacts without a response ...")
    unanswered_within: str = Field(default="24h", description="... within this span trigger contacts.unanswered")
    shipment_statuses: list[str] = Field(default_factory=lambda: ["exception", "failed_attempt", "returned"])
    missed_call_dispositions: list[str] = Field(default_factory=lambda: ["missed", "busy", "rejected", "voicemail"])
    max_trigger_age: str | None = Field(
        default="2d", description="older triggers (a first start reading history) notify nobody; None: no limit"
    )
    max_attempts: int = Field(default=8, ge=1, description="delivery attempts before a notification fails")
    retry_initial: float = Field(default=5.0, gt=0, description="seconds before the first retry, doubled per attempt")
    retry_max: float = Field(default=600.0, gt=0, description="longest wait between attempts, seconds")
    poll_interval: float = Field(default=1.0, gt=0, description="seconds between looks for due notifications")
    webhook_timeout: float = Field(default=10.0, gt=0)


# ---- callbacks ------------------------------------------------------------------------------


class Callbacks(Section):
    """Missed calls that are owed a call back (see services/projector/callbacks)."""

    grace: str = Field(default="15m", description="a caller who reaches us within this time needs no callback")
    open_on: list[Literal["missed", "busy", "rejected", "voicemail", "failed"]] = Field(
        default_factory=lambda: ["missed", "busy", "rejected", "voicemail"],
        description="how an unanswered inbound call ended for it to be owed a callback")
    close_on: Literal["answered", "attempt"] = Field(
        default="answered", description="answered: only a call back that was answered closes it; attempt: any call out")
    calendar: str = Field(default="24/7", description="business calendar of the waiting time (one of [[sla.calendars]])")
    escalate_after: str | None = Field(
        default=None, description="business time a callback may wait before callback.overdue; unset: never")


class Privacy(Section):
    """Field encryption under per-subject keys (crypto-shredding); see shared/privacy/."""

    encrypt: bool | None = Field(
        default=None, description="encrypt personal data in events and blobs; unset: on (false switches it off)")
    master_key_file: Path | None = Field(
        default=None, description="32 random bytes, base64; required in production, generated under the "
        "data folder in development")
    retention: dict[str, str] = Field(default_factory=dict, description="event type pattern -> duration")

    @field_validator("retention")
    @classmethod
    def _retention_rules(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern, duration in value.items():
            try:
                check_pattern(pattern)
                parse_duration(duration)
            except ValueError as exc:
                raise ValueError(f"{pattern!r}: {exc}") from None
        return value


class Consent(Section):
    """Purposes people consent to (see services/projector/consent/)."""

    purposes: list[str] = Field(default_factory=lambda: ["contact", "marketing"], min_length=1)
    notifier_purpose: str = Field(
        default="contact", description="the purpose mail from the notifier to a customer uses")

    @model_validator(mode="after")
    def _known_purposes(self) -> Consent:
        bad = [p for p in self.purposes if not re.match(r"^[a-z][a-z0-9_-]{0,39}$", p)]
        if bad:
            raise ValueError(f"purposes: {bad}: a purpose is a short lower-case name such as marketing")
        if self.notifier_purpose not in self.purposes:
            raise ValueError(f"notifier_purpose: {self.notifier_purpose!r} is not among purposes {self.purposes}")
        return self


# ---- the settings -----------------------------------------------------------------------------


class FileConfig(Section):
    """The TOML file's sections."""

    mailboxes: list[Mailbox] = Field(default_factory=list)
    webhooks: Webhooks = Webhooks()
    auth: Auth = Auth()
    sla: Sla = Sla()
    smtp: Smtp | None = None
    routing: Routing = Routing()
    notifier: Notifier = Notifier()
    callbacks: Callbacks = Callbacks()
    privacy: Privacy = Privacy()
    consent: Consent = Consent()

    @model_validator(mode="after")
    def _form_purposes_are_known(self) -> FileConfig:
        for form_id, form in self.webhooks.forms.items():
            unknown = [p for p in form.consent if p not in self.consent.purposes]
            if unknown:
                raise ValueError(f"webhooks.forms.{form_id}.consent: {unknown} not among consent.purposes "
                                 f"{self.consent.purposes}")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_", extra="ignore", frozen=True)

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Path("var")
    kafka_bootstrap: str | None = Field(default=None, description="external cluster; unset: local broker")
    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_home: Path | None = None
    kafka_request_timeout_ms: int = 15_000
    kafka_compression: Literal["gzip", "none"] = "gzip"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = Field(default=None, repr=False)
    kafka_sasl_password_file: Path | None = Field(default=None, description="file holding the SASL password")
    kafka_ca_file: Path | None = Field(default=None, description="PEM CA certificate(s) of the cluster's TLS")
    topic_prefix: str = "touchpoint."
    topic_partitions: int = Field(default=4, ge=1)
    topic_replication_factor: int | None = Field(
        default=None, ge=1, description="replicas of new topics; unset: the cluster's brokers, at most 3"
    )
    topic_min_insync_replicas: int | None = Field(
        default=None, ge=1, description="min.insync.replicas of new topics; unset: 2 with 3 replicas, else 1"
    )
    database_url: str | None = Field(default=None, repr=False)  # holds the database password
    ingest_host: str = "127.0.0.1"
    ingest_port: int = 8080
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    api_max_body_bytes: int = Field(default=1_048_576, gt=0, description="largest agent API request body")
    public_docs: bool | None = Field(
        default=None, description="/docs and /openapi.json on the public ports; unset: on, off in production")
    public_metrics: bool = Field(default=True, description="/metrics on the public ports")
    admin_host: str = Field(default="127.0.0.1", description="address of the admin listeners")
    ingest_admin_port: int = Field(default=0, ge=0, description="/docs, /openapi.json, /metrics of ingest; 0: none")
    api_admin_port: int = Field(default=0, ge=0, description="/docs, /openapi.json, /metrics of the API; 0: none")
    trusted_proxies: str = Field(
        default="", description="comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed")
    notifier_metrics_port: int = Field(default=8090, ge=0, description="the notifier's /metrics; 0: none")
    sla_metrics_port: int = Field(default=8091, ge=0, description="the complaints/SLA process's /metrics; 0: none")
    projector_metrics_port: int = Field(default=8092, ge=0, description="the projector's /metrics; 0: none")
    public_url: str | None = Field(default=None, description="how users reach the agent UI (links in mails)")
    default_region: str | None = Field(
        default=None, description="ISO country for phone numbers written without a country code"
    )
    attachments_dir: Path | None = None
    imap_metrics_port: int = Field(default=8093, ge=0, description="the IMAP pollers' /metrics; 0: none")
    imap_lease_seconds: float = Field(
        default=30.0, gt=0, description="how long an IMAP instance holds a folder without renewing; a killed "
        "instance's folders move to another instance after this"
    )
    status_host: str = Field(default="127.0.0.1", description="address of the workers' /metrics, /healthz, /readyz")
    log_level: str = "INFO"
    privacy_encrypt: bool | None = Field(
        default=None, description="overrides [privacy] encrypt (TOUCHPOINT_PRIVACY_ENCRYPT)")
    privacy_master_key_file: Path | None = Field(
        default=None, description="overrides [privacy] master_key_file (TOUCHPOINT_PRIVACY_MASTER_KEY_FILE)")
    config: Path | None = Field(default=None, description="the TOML file")
    file: FileConfig = FileConfig()

    @field_validator("default_region")
    @classmethod
    def _region_upper(cls, value: str | None) -> str | None:
        return value.upper() if value else value

    @property
    def bootstrap_servers(self) -> str:
        if self.kafka_bootstrap:
            return self.kafka_bootstrap
        from shared.kafka.local_cluster import local_bootstrap  # the local cluster's shape file

        return local_bootstrap(self.data_dir / "kafka", self.kafka_port)

    @property
    def uses_local_kafka(self) -> bool:
        return self.kafka_bootstrap is None

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'touchpoint.db').resolve()}"

    @property
    def attachments_path(self) -> Path:
        return self.attachments_dir or self.data_dir / "attachments"

    @model_validator(mode="before")
    @classmethod
    def _read_kafka_password_file(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("kafka_sasl_password_file") or data.get("kafka_sasl_password"):
            return data
        path = Path(data["kafka_sasl_password_file"]).expanduser()
        try:
            return {**data, "kafka_sasl_password": path.read_text().strip()}
        except OSError as exc:
            raise ValueError(f"kafka_sasl_password_file: cannot read {path}: {exc.strerror}") from None

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> Settings:
        if self.kafka_security_protocol.startswith("SASL_"):
            missing = [name for name in ("kafka_sasl_mechanism", "kafka_sasl_username", "kafka_sasl_password")
                       if not getattr(self, name)]
            if missing:
                raise ValueError(f"kafka_security_protocol={self.kafka_security_protocol} needs "
                                 + ", ".join(f"TOUCHPOINT_{name.upper()}" for name in missing))
        if self.kafka_ca_file is not None and not self.kafka_ca_file.is_file():
            raise ValueError(f"kafka_ca_file: {self.kafka_ca_file} is not a readable file")
        return self
    @property
    def encrypts_personal_data(self) -> bool:
        """On unless switched off; in development the master key is generated under the data folder."""
        for choice in (self.privacy_encrypt, self.file.privacy.encrypt):
            if choice is not None:
                return choice
        return True

    @property
    def master_key_path(self) -> Path:
        """Where the master key is read from; in development it is generated there when absent."""
        return (self.privacy_master_key_file or self.file.privacy.master_key_file
                or self.data_dir / "privacy" / "master.key")

    @property
    def docs_public(self) -> bool:
        return self.public_docs if self.public_docs is not None else self.environment != "production"

    @property
    def proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return parse_networks(self.trusted_proxies)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value:
            hide_url_password(value)
            if safe_url(value).startswith("("):
                # the URL itself is not repeated: it holds the password
                raise ValueError("not a database URL; write it as postgresql://user:password@host:5432/database")
        return value

    @model_validator(mode="after")
    def _no_placeholder_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            problems = production_secret_problems(self.file)
            if self.privacy_master_key_file is None and self.file.privacy.master_key_file is None:
                problems.append("privacy.master_key_file: required in production (the key that wraps every "
                                "customer's data keys; back it up apart from the database)")
            if problems:
                raise ValueError("\n".join(problems))
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)


def production_secret_problems(file: FileConfig) -> list[str]:
    """Every secret that may not go to production, each naming its key."""
    problems = []
    for path, value in _secrets(file):
        lowered = value.strip().lower()
        if lowered in PLACEHOLDER_SECRETS or any(word in lowered for word in PLACEHOLDER_WORDS):
            problems.append(f"{path}: a placeholder secret is not allowed in production, set a random one")
        elif len(value) < MIN_SECRET_CHARS and not ISSUED_ELSEWHERE.match(path):
            problems.append(f"{path}: a secret shorter than {MIN_SECRET_CHARS} characters is not allowed in production "
                            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
        elif len(value) < 8:
            problems.append(f"{path}: a secret shorter than 8 characters is not allowed in production")
    if file.auth.session_secret is None or not file.auth.session_secret.get_secret_value():
        problems.append("auth.session_secret: required in production (sessions must be signed with a key you keep)")
    return problems


@lru_cache(maxsize=16)
def parse_networks(value: str) -> tuple[IPv4Network | IPv6Network, ...]:
    networks = []
    for part in value.split(","):
        if part.strip():
            try:
                networks.append(ip_network(part.strip(), strict=False))
            except ValueError:
                raise ValueError(f"{part.strip()!r} is not an IP address or CIDR such as 10.0.0.0/8") from None
    return tuple(networks)


def _secrets(model: BaseModel, prefix: str = "") -> list[tuple[str, str]]:
    found = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        path = f"{prefix}{name}"
        if isinstance(value, SecretStr) and value.get_secret_value():
            found.append((path, value.get_secret_value()))
        elif isinstance(value, BaseModel):
            found += _secrets(value, f"{path}.")
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    found += _secrets(item, f"{path}[{i}].")
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    found += _secrets(item, f"{path}.{key}.")
    return found


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Reads the environment and the TOML file (argument, else `TOUCHPOINT_CONFIG`).

    Raises ConfigError with every problem on one line each, naming the key."""
    try:
        # the environment alone, only to find the file (production checks need the file too)
        path = config_file or Settings(**{**overrides, "environment": "development"}).config
        if path is None:
            return Settings(**overrides)
        file_config = read_config_file(path)
        return Settings(**{**overrides, "config": path, "file": file_config})
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, "configuration")) from None


def read_config_file(path: Path) -> FileConfig:
    try:
        raw = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist (TOUCHPOINT_CONFIG)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    try:
        return FileConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, str(path))) from None


def describe_errors(exc: ValidationError, where: str) -> str:
    lines = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"] if part != "file")
        message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
        if not key:  # a check of the whole configuration: its message names the keys
            lines += [f"{where}: {part}" for part in message.removeprefix("Value error, ").split("\n")]
            continue
        lines.append(f"{where}: {key}: {message}")
    return "\n".join(lines)
