"""Fixtures for the fetch tests: no sleeping between retries; scripted local servers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from reconcile.providers import _http
from tests.fetch._server import serve


@pytest.fixture(autouse=True)
def no_sleep() -> Iterator[None]:
    """Retries do not sleep in tests (waits are still recorded in FetchStats.waits)."""
    _http.set_testing(True)
    yield
    _http.set_testing(False)


@pytest.fixture
def scripted():
    """``scripted(*replies)`` starts a server answering with ``replies`` in order."""
    with contextlib.ExitStack() as stack:
        yield lambda *replies: stack.enter_context(serve(replies))
