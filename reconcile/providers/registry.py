"""The one place providers are registered: name -> normalizer, fetcher, module.

A provider module is a :class:`ProviderModule`: it has ``PROVIDER``,
``normalize`` (pure), ``fetch`` (I/O through ``ProviderClient``), ``OPTIONS``
(the keys it accepts under ``options:``), ``base_url(options)`` (its public
default, or None) and ``auth_headers(credential, options)``. mypy checks each
registered module against it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from reconcile.providers import amberflo, commet, f5xc, frontier, stripe
from reconcile.providers._base import Normalized, Normalizer, Page
from reconcile.providers._http import ProviderClient
from reconcile.providers._options import Option

Fetcher = Callable[[ProviderClient, Mapping[str, Any], datetime, datetime], list[Page]]


class ProviderModule(Protocol):
    """What the configuration, the fetch and the sources read from a provider module."""

    @property
    def PROVIDER(self) -> str:  # (a module constant)
        """Its name in a source's ``provider:``."""
        ...

    @property
    def OPTIONS(self) -> Mapping[str, Option]:  # (a module constant)
        """The keys it accepts under a source's ``options:``."""
        ...

    def normalize(
        self, pages: Sequence[Page], source: str, options: Mapping[str, Any] = ...
    ) -> Normalized:
        """Pages in, canonical rows out (pure, no I/O)."""
        ...

    def fetch(
        self,
        client: ProviderClient,
        options: Mapping[str, Any],
        period_start: datetime,
        period_end: datetime,
    ) -> list[Page]:
        """The pages of the period (and of its neighbours, where the provider reads them)."""
        ...

    def base_url(self, options: Mapping[str, Any]) -> str | None:
        """Its public default address, or None (self-hosted: ``base_url:`` required)."""
        ...

    def auth_headers(self, credential: str, options: Mapping[str, Any]) -> dict[str, str]:
        """The request headers that carry the credential."""
        ...


#: (a list: mypy names the module that does not match ProviderModule, and how)
_PROVIDERS: list[ProviderModule] = [f5xc, amberflo, commet, frontier, stripe]

MODULES: dict[str, ProviderModule] = {module.PROVIDER: module for module in _PROVIDERS}
NORMALIZERS: dict[str, Normalizer] = {name: module.normalize for name, module in MODULES.items()}
FETCHERS: dict[str, Fetcher] = {name: module.fetch for name, module in MODULES.items()}
