"""Labels of the callback pages (English, German); merged into the page labels."""

CALLBACK_LABELS: dict[str, tuple[str, str]] = {
    "callbacks": ("Callbacks", "Rückrufe"),
    "callbacks_title": ("Callbacks, longest waiting first", "Rückrufe, am längsten wartende zuerst"),
    "callbacks_hint": ("Waiting time counts business hours of the calendar “{calendar}”. Calling the number back "
                       "closes a callback by itself.",
                       "Die Wartezeit zählt Geschäftszeit des Kalenders „{calendar}“. Ein Rückruf an die Nummer "
                       "schließt den Rückruf von selbst."),
    "no_callbacks": ("Nobody is waiting for a callback.", "Niemand wartet auf einen Rückruf."),
    "callback_number": ("Number", "Nummer"),
    "callback_attempts": ("Calls", "Anrufe"),
    "callback_waited": ("Waiting (business time)", "Wartet (Geschäftszeit)"),
    "callback_missed_at": ("First missed", "Erster verpasster Anruf"),
    "callback_last_attempt": ("Last call", "Letzter Anruf"),
    "callback_overdue": ("overdue", "überfällig"),
    "callback_unknown_caller": ("unknown caller", "unbekannter Anrufer"),
    "callback_close": ("Close", "Schließen"),
    "callback_outcome": ("Outcome", "Ergebnis"),
    "callback_outcome_hint": ("What came of it", "Was dabei herauskam"),
    "callback_closed": ("Closed. The queue shows it as soon as it is recorded.",
                        "Geschlossen. Die Liste zeigt es, sobald es verbucht ist."),
    "callback_error_note_required": ("Say what came of the callback.", "Bitte das Ergebnis angeben."),
    "callback_error_callback_gone": ("This callback is closed already.", "Dieser Rückruf ist bereits geschlossen."),
    "callback_error_kafka_down": ("Kafka does not answer; nothing was recorded. Try again.",
                                  "Kafka antwortet nicht; nichts wurde verbucht. Bitte erneut versuchen."),
    "callback_waiting": ("Callback owed: {phone} called {attempts}× and has waited {waited}.",
                         "Rückruf offen: {phone} hat {attempts}× angerufen und wartet seit {waited}."),
}
