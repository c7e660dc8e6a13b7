"""A dead-letter queue in a local directory, for `make dev` and the feed command.

It answers the three SQS calls the forwarder makes (send_message, receive_message,
delete_message), one JSON file per message, so that nothing is lost locally either.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any


class LocalQueue:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.url = f"file://{self.directory.resolve()}"

    def send_message(self, QueueUrl: str, MessageBody: str, **kwargs: Any) -> dict[str, Any]:
        message_id = str(uuid.uuid4())
        path = self.directory / f"{time.time_ns():020d}-{message_id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"MessageId": message_id, "Body": MessageBody, **kwargs}))
        os.replace(tmp, path)
        return {"MessageId": message_id}

    def receive_message(
        self,
        QueueUrl: str,
        MaxNumberOfMessages: int = 1,
        VisibilityTimeout: int = 30,
        **kwargs: Any,
    ) -> dict[str, Any]:
        now = time.time()
        messages = []
        for path in sorted(self.directory.glob("*.json")):
            data = json.loads(path.read_text())
            if data.get("InvisibleUntil", 0) > now:
                continue
            data["InvisibleUntil"] = now + VisibilityTimeout
            path.write_text(json.dumps(data))
            messages.append(
                {
                    "MessageId": data["MessageId"],
                    "ReceiptHandle": path.name,
                    "Body": data["Body"],
                    "MessageAttributes": data.get("MessageAttributes", {}),
                }
            )
            if len(messages) >= MaxNumberOfMessages:
                break
        return {"Messages": messages} if messages else {}

    def change_message_visibility(
        self, QueueUrl: str, ReceiptHandle: str, VisibilityTimeout: int
    ) -> dict[str, Any]:
        path = self.directory / ReceiptHandle
        if path.exists():
            data = json.loads(path.read_text())
            data["InvisibleUntil"] = time.time() + VisibilityTimeout
            path.write_text(json.dumps(data))
        return {}

    def delete_message(self, QueueUrl: str, ReceiptHandle: str) -> dict[str, Any]:
        (self.directory / ReceiptHandle).unlink(missing_ok=True)
        return {}

    def __len__(self) -> int:
        return len(list(self.directory.glob("*.json")))
