"""A real SMTP server (aiosmtpd on 127.0.0.1) for the tests of this folder: one per
module, emptied and made well-behaved again before each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mail.smtp_server import Mailbox, smtp_server


@pytest.fixture(scope="module")
def _server() -> Iterator[tuple[Mailbox, int]]:
    with smtp_server(with_login=True) as running:
        yield running


@pytest.fixture
def mailbox(_server: tuple[Mailbox, int]) -> Mailbox:
    _server[0].reset()
    return _server[0]


@pytest.fixture
def smtp_port(_server: tuple[Mailbox, int]) -> int:
    return _server[1]
