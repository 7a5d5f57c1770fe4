"""The one place providers are registered: name -> normalizer, fetcher, module.

A provider module has ``PROVIDER``, ``normalize`` (pure), ``fetch`` (I/O through
``ProviderClient``), ``OPTIONS`` (the keys it accepts under ``options:``),
``base_url(options)`` (its public default, or None) and
``auth_headers(credential, options)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from types import ModuleType
from typing import Any

from reconcile.providers import amberflo, commet, f5xc, frontier, stripe
from reconcile.providers._base import Normalizer, Page
from reconcile.providers._http import ProviderClient

Fetcher = Callable[[ProviderClient, Mapping[str, Any], datetime, datetime], list[Page]]

MODULES: dict[str, ModuleType] = {
    module.PROVIDER: module for module in (f5xc, amberflo, commet, frontier, stripe)
}
NORMALIZERS: dict[str, Normalizer] = {name: module.normalize for name, module in MODULES.items()}
FETCHERS: dict[str, Fetcher] = {name: module.fetch for name, module in MODULES.items()}
