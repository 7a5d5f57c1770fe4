"""The one place providers are registered: name -> normalizer."""

from __future__ import annotations

from reconcile.providers import amberflo, commet, f5xc, frontier, stripe
from reconcile.providers._base import Normalizer

NORMALIZERS: dict[str, Normalizer] = {
    module.PROVIDER: module.normalize for module in (f5xc, amberflo, commet, frontier, stripe)
}
