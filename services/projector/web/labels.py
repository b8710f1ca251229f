"""German and English labels of the web pages. The language is the user's `language` from
`[[auth.tokens]]` once logged in, before that the browser's Accept-Language."""

from __future__ import annotations

from services.projector.web.identity_labels import IDENTITY_LABELS
from services.projector.web.complaint_labels import COMPLAINT_LABELS
from services.projector.web.callback_labels import CALLBACK_LABELS

LANGUAGES = ("en", "de")

LABELS: dict[str, tuple[str, str]] = {
    # key: (English, German)
    "app": ("Touchpoint", "Touchpoint"),
    "login": ("Log in", "Anmelden"),
    "logout": ("Log out", "Abmelden"),
    "token": ("Access token", "Zugangs-Token"),
    "login_hint": ("Log in with your name and password, or with an access token.",
                   "Melden Sie sich mit Name und Passwort an, oder mit einem Zugangs-Token."),
    "login_failed": ("This token is not known. Check it and try again.",
                     "Dieses Token ist unbekannt. Bitte prüfen und erneut versuchen."),
    "login_failed_password": ("Name or password is wrong, or the account is disabled.",
                              "Name oder Passwort ist falsch, oder das Konto ist gesperrt."),
    "login_failed_oidc": ("Sign-on did not succeed, or your account is not enabled here. Ask an administrator.",
                          "Die Anmeldung ist nicht gelungen, oder Ihr Konto ist hier nicht freigeschaltet. Bitte an die Administration wenden."),
    "login_with": ("Log in with {provider}", "Anmelden mit {provider}"),
    "user_name": ("Name", "Name"),
    "password": ("Password", "Passwort"),
    "login_with_token": ("Log in with token", "Mit Token anmelden"),
    "login_throttled": ("Too many failed logins. Try again in {seconds} seconds.",
                        "Zu viele fehlgeschlagene Anmeldungen. Bitte in {seconds} Sekunden erneut versuchen."),
    "session_expired": ("The form expired. Please try again.", "Das Formular ist abgelaufen. Bitte erneut versuchen."),
    "search": ("Search", "Suchen"),
    "search_label": ("Name, email, phone, customer number or order", "Name, E-Mail, Telefon, Kundennummer oder Auftrag"),
    "search_results": ("Search results", "Suchergebnisse"),
    "no_results": ("No customer or contact matches “{q}”.", "Kein Kunde und kein Kontakt passt zu „{q}“."),
    "search_prompt": ("Search for a customer, or wait for a call: the caller appears here.",
                      "Suchen Sie einen Kunden oder warten Sie auf einen Anruf: der Anrufer erscheint hier."),
    "waiting_calls": ("Waiting for calls on extension {ext}", "Warte auf Anrufe für Nebenstelle {ext}"),
    "no_extension": ("No extension is configured for you: screen pops are off.",
                     "Für Sie ist keine Nebenstelle eingerichtet: Anrufanzeige aus."),
    "customer": ("Customer", "Kunde"),
    "contact": ("Unmatched contact", "Nicht zugeordneter Kontakt"),
    "new_caller": ("New caller", "Neuer Anrufer"),
    "new_caller_hint": ("This number belongs to no customer yet. Search for the customer to link it.",
                        "Diese Nummer gehört noch zu keinem Kunden. Suchen Sie den Kunden, um sie zuzuordnen."),
    "incoming_call": ("Incoming call", "Eingehender Anruf"),
    "open": ("Open", "Öffnen"),
    "customer_ref": ("Customer number", "Kundennummer"),
    "emails": ("Email", "E-Mail"),
    "hard_bounced": ("undeliverable (hard bounce)", "unzustellbar (harter Bounce)"),
    "phones": ("Phone", "Telefon"),
    "orders": ("Orders", "Aufträge"),
    "segment": ("Segment", "Segment"),
    "timeline": ("Timeline", "Verlauf"),
    "all_channels": ("All channels", "Alle Kanäle"),
    "channel_email": ("Email", "E-Mail"),
    "channel_phone": ("Phone", "Telefon"),
    "channel_webform": ("Web form", "Webformular"),
    "channel_shipping": ("Parcels", "Pakete"),
    "channel_agent": ("Agent", "Mitarbeiter"),
    "channel_system": ("System", "System"),
    "filter": ("Filter", "Filtern"),
    "empty_timeline": ("Nothing here yet: no mails, calls, forms or parcels for this customer.",
                       "Noch nichts da: keine E-Mails, Anrufe, Formulare oder Pakete zu diesem Kunden."),
    "empty_channel": ("Nothing on this channel.", "Nichts auf diesem Kanal."),
    "load_more": ("Load older entries", "Ältere Einträge laden"),
    "loading": ("Loading …", "Lädt …"),
    "end_of_timeline": ("Start of the history.", "Anfang des Verlaufs."),
    "load_failed": ("Could not load the entries. Try again.", "Einträge konnten nicht geladen werden. Bitte erneut versuchen."),
    "live_on": ("Live", "Live"),
    "live_off": ("Reconnecting …", "Verbinde neu …"),
    "new_entry": ("New", "Neu"),
    "inbound": ("in", "ein"),
    "outbound": ("out", "aus"),
    "from": ("From", "Von"),
    "to": ("To", "An"),
    "subject": ("Subject", "Betreff"),
    "text": ("Text", "Text"),
    "html_view": ("Formatted", "Formatiert"),
    "load_images": ("Load remote images", "Externe Bilder laden"),
    "images_blocked": ("Remote images are blocked.", "Externe Bilder sind blockiert."),
    "attachments": ("Attachments", "Anhänge"),
    "download": ("Download", "Herunterladen"),
    "no_body": ("This mail has no text.", "Diese E-Mail hat keinen Text."),
    "body_truncated": ("The body was shortened; the full message is attached as a file.",
                       "Der Text wurde gekürzt; die vollständige Nachricht liegt als Datei bei."),
    "raw_message": ("Original message (.eml)", "Originalnachricht (.eml)"),
    "duration": ("Duration", "Dauer"),
    "outcome": ("Outcome", "Ergebnis"),
    "answered_by": ("Answered by", "Angenommen von"),
    "started": ("Started", "Beginn"),
    "missed": ("missed", "verpasst"),
    "status": ("Status", "Status"),
    "carrier": ("Carrier", "Versender"),
    "tracking": ("Tracking number", "Sendungsnummer"),
    "history": ("History", "Verlauf"),
    "fields": ("Fields", "Felder"),
    "message": ("Message", "Nachricht"),
    "details": ("Details", "Details"),
    "unmatched": ("Unmatched contacts", "Nicht zugeordnete Kontakte"),
    "link_title": ("Link to customer", "Kunde zuordnen"),
    "link_hint": ("Give the customer number this {kind} belongs to.",
                  "Geben Sie die Kundennummer an, zu der diese Angabe ({kind}) gehört."),
    "link": ("Link", "Zuordnen"),
    "linked": ("Linked. The history moves over as soon as the link is projected.",
               "Zugeordnet. Der Verlauf wechselt, sobald die Zuordnung verarbeitet ist."),
    "link_failed": ("Not linked: {detail}", "Nicht zugeordnet: {detail}"),
    "not_found": ("Not found", "Nicht gefunden"),
    "not_found_detail": ("There is no customer or contact with this id.", "Es gibt keinen Kunden oder Kontakt mit dieser Kennung."),
    "forbidden": ("Not allowed", "Nicht erlaubt"),
    "forbidden_detail": ("Your role ({role}) may not open this page.", "Ihre Rolle ({role}) darf diese Seite nicht öffnen."),
    "error": ("Something went wrong", "Etwas ist schiefgelaufen"),
    "complaints": ("Complaints", "Beschwerden"),
    "complaints_title": ("Complaints by urgency", "Beschwerden nach Dringlichkeit"),
    "no_complaints": ("No open complaints.", "Keine offenen Beschwerden."),
    "team": ("Team", "Team"),
    "priority": ("Priority", "Priorität"),
    "any": ("any", "alle"),
    "state": ("SLA", "SLA"),
    "first_response_due": ("First response due", "Erste Antwort fällig"),
    "resolution_due": ("Resolution due", "Lösung fällig"),
    "remaining": ("Remaining (business time)", "Verbleibend (Geschäftszeit)"),
    "opened": ("Opened", "Eröffnet"),
    "as_of": ("As recorded at", "Stand der Aufzeichnung"),
    "as_of_show": ("Show", "Anzeigen"),
    "as_of_back": ("◀ Step back", "◀ Schritt zurück"),
    "as_of_now": ("Now", "Jetzt"),
    "as_of_note": ("The timeline as it was recorded at {at}: later entries and changes are hidden, live updates are off.",
                   "Die Zeitleiste, wie sie um {at} aufgezeichnet war: spätere Einträge und Änderungen sind ausgeblendet, Live-Aktualisierung aus."),
    "as_of_complaints": ("Complaints at that time", "Beschwerden zu diesem Zeitpunkt"),
    "as_of_bad": ("Cannot show that time: {detail}", "Dieser Zeitpunkt kann nicht angezeigt werden: {detail}"),
    "state_ok": ("ok", "ok"),
    "state_warning": ("warning", "Warnung"),
    "state_breached": ("breached", "überschritten"),
    "state_paused": ("paused", "pausiert"),
    "state_met": ("met", "eingehalten"),
    "ops": ("Ops", "Betrieb"),
    "ops_title": ("Event streams", "Ereignisströme"),
    "throughput": ("Throughput (events per minute, last {n} minutes)", "Durchsatz (Ereignisse pro Minute, letzte {n} Minuten)"),
    "topic": ("Topic", "Topic"),
    "total": ("Total", "Gesamt"),
    "lag": ("Consumer lag", "Verarbeitungsrückstand"),
    "group": ("Group", "Gruppe"),
    "partition": ("Partition", "Partition"),
    "worst_partition": ("Furthest behind", "Größter Rückstand"),
    "lag_trend": ("Last {minutes} minutes", "Letzte {minutes} Minuten"),
    "members": ("Members (partitions)", "Mitglieder (Partitionen)"),
    "no_members": ("no member running", "kein Mitglied aktiv"),
    "partitions_of": ("{count} partitions", "{count} Partitionen"),
    "owner": ("Owner", "Zuständig"),
    "unassigned": ("unassigned", "nicht zugewiesen"),
    "no_lag": ("No consumer group has committed offsets yet.", "Noch keine Consumer-Gruppe hat Offsets bestätigt."),
    "adapters": ("Adapter health", "Zustand der Adapter"),
    "source": ("Source", "Quelle"),
    "last_webhook": ("Last accepted webhook", "Letzter angenommener Webhook"),
    "mailbox": ("Mailbox", "Postfach"),
    "last_sync": ("Last IMAP sync", "Letzter IMAP-Abgleich"),
    "never": ("never", "nie"),
    "ingest_unreachable": ("The ingest service does not answer at {url}.", "Der Ingest-Dienst antwortet nicht unter {url}."),
    "no_mailboxes": ("No mailbox has been synced.", "Noch kein Postfach abgeglichen."),
    "sign_in": ("Sign-in", "Anmeldung"),
    "sign_in_ok": ("ok", "ok"),
    "sign_in_failed": ("failing", "schlägt fehl"),
    "dead_letters": ("Dead letters", "Unzustellbare Nachrichten"),
    "no_dead_letters": ("No dead letters.", "Keine unzustellbaren Nachrichten."),
    "reason": ("Reason", "Grund"),
    "time": ("Time", "Zeit"),
    "payload": ("Payload", "Inhalt"),
    "replay": ("Replay", "Erneut einspielen"),
    "letter_erased": ("erased (its key no longer opens; it cannot be replayed)",
                      "gelöscht (sein Schlüssel öffnet nicht mehr; nicht erneut einspielbar)"),
    "replayed_by": ("replayed by {user}", "erneut eingespielt von {user}"),
    "replay_done": ("Replayed {id} to {topic}.", "{id} nach {topic} erneut eingespielt."),
    "replay_failed": ("Replay refused: {detail}", "Erneutes Einspielen abgelehnt: {detail}"),
    "kafka_unavailable": ("Kafka does not answer: {detail}", "Kafka antwortet nicht: {detail}"),
    "sampling": ("Sampling the broker …", "Lese den Broker …"),
    "skip": ("Skip to content", "Zum Inhalt springen"),
    "signed_in_as": ("Signed in as {user} ({role})", "Angemeldet als {user} ({role})"),
    **CALLBACK_LABELS,
}
LABELS |= IDENTITY_LABELS
LABELS.update(COMPLAINT_LABELS)


def pick_language(preferred: str | None, accept_language: str | None) -> str:
    if preferred in LANGUAGES:
        return preferred  # type: ignore[return-value]
    for part in (accept_language or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"


class Labels:
    """`labels("key", name=value)` in templates."""

    def __init__(self, language: str) -> None:
        self.language = language if language in LANGUAGES else "en"
        self._index = LANGUAGES.index(self.language)

    def __call__(self, key: str, **values: object) -> str:
        pair = LABELS.get(key)
        if pair is None:
            return key
        text = pair[self._index]
        return text.format(**values) if values else text
