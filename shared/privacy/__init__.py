"""Personal data under per-subject keys, so that destroying a key erases the data everywhere it
was copied (the log, dead letters, outboxes, blobs) without rewriting anything: crypto-shredding.

- `master.py`: the master key (a file), and what is derived from it: the key that wraps data
  keys, and the secret of the blind indexes.
- `store.py`: data keys in the database, one per subject and period, wrapped by the master key.
- `retention.py`: `[privacy.retention]`: the period (year and retention class) of an event, and
  when a class of a year expires.
- `subjects.py`: whose key protects an event.
- `sealing.py`: the codec layer that encrypts the fields marked `x-pii` and opens them again.
- `runtime.py`: switching it on in a process from the settings.
- `erasure.py`: destroying a subject's keys and announcing it with `customer.erased`.
"""
