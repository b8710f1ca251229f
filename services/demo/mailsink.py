"""A local SMTP peer for the demo: notifications land as .eml files under var/demo-mail/."""

from __future__ import annotations

import time
from pathlib import Path

from aiosmtpd.controller import Controller


class SaveToFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{abs(hash(envelope.content)) % 10**8:08d}.eml"
        (self.folder / name).write_bytes(envelope.original_content or envelope.content)
        return "250 OK"


def start_mail_sink(folder: Path, port: int) -> Controller:
    controller = Controller(SaveToFolder(folder), hostname="127.0.0.1", port=port)
    controller.start()
    return controller
