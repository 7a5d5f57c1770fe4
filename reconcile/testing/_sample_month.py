"""The bundled October 2026 month served live by five local servers, and a config for it."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from ._frontier import ORG_ID
from ._recordings import _sample_dir
from ._server import PROVIDERS, Fault, ProviderServer

#: the config options a live fetch of the sample month needs, per provider (on top of
#: the recorded config's own ``options``)
_SAMPLE_FETCH_OPTIONS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "f5xc": lambda o: {"namespace": o["namespace"], "pdfs": True},
    "amberflo": lambda o: {},  # customers: the fetcher asks GET /customers
    "commet": lambda o: {"api_version": o["api_version"]},
    "frontier": lambda o: {"api": o.get("api", "connect"), "org_id": o.get("org_id", ORG_ID)},
    "stripe": lambda o: {},
}


def credential_env(provider: str) -> str:
    """The environment variable a sample-month live config reads ``provider``'s key from."""
    return f"RECONCILE_SAMPLE_{provider.upper()}_KEY"


class SampleMonth(NamedTuple):
    """The five sample-month servers (by provider) and how to point a config at them."""

    servers: dict[str, ProviderServer]
    #: ``write_config(folder, sources=None) -> Path``: a live copy of sample_data/close.yaml
    write_config: Callable[..., Path]
    #: environment variable → credential, for the run's environment
    env: dict[str, str]


def _write_live_config(
    servers: Mapping[str, ProviderServer],
    folder: Path,
    sources: Mapping[str, Mapping[str, Any]] | None = None,
) -> Path:
    """``folder/close.yaml``: the sample close with ``base_url``/``credential_env`` per provider
    source instead of ``recording`` (and a copy of the ledger); ``sources`` adds or
    overrides keys per source (e.g. ``{"commet": {"http": {...}}}``); ``None`` removes one."""
    from ruamel.yaml import YAML

    sample = _sample_dir()
    yaml = YAML()
    yaml.width = 4096  # no wrapped flow mappings
    doc = yaml.load((sample / "close.yaml").read_text(encoding="utf-8"))
    for name, source in doc["sources"].items():
        provider = source["provider"]
        if provider in servers:
            server = servers[provider]
            del source["recording"]
            source["base_url"] = server.url
            source["credential_env"] = credential_env(provider)
            fetch = _SAMPLE_FETCH_OPTIONS[provider](dict(server._app.options))
            source["options"] = {**dict(source.get("options") or {}), **fetch}
        elif "path" in source:  # a copy beside the config: findings name it as the sample's
            for spec in (source, source.get("lines") or {}):
                if "path" in spec:
                    folder.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(sample / spec["path"], folder / Path(spec["path"]).name)
                    spec["path"] = Path(spec["path"]).name
        for key, value in (sources or {}).get(name, {}).items():
            if value is None:
                source.pop(key, None)
            else:
                source[key] = value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "close.yaml"
    with path.open("w", encoding="utf-8") as stream:
        yaml.dump(doc, stream)
    return path


@contextlib.contextmanager
def serve_sample_month(
    *,
    faults: Mapping[str, Sequence[Fault]] | None = None,
    page_sizes: Mapping[str, int] | None = None,
    credentials: Mapping[str, str] | None = None,
    latency: float | Mapping[str, float] = 0.0,
) -> Iterator[SampleMonth]:
    """Serve the bundled October 2026 month from five local servers.

    A live fetch from them gives the invoices the bundled recordings hold.
    ``credentials`` per provider default to distinct random values (so a test can
    search outputs for them); ``faults`` and ``page_sizes`` per provider; ``latency``
    (seconds each request is held: ``ProviderServer.latency``) for every server, or
    per provider.
    """
    import secrets

    servers: dict[str, ProviderServer] = {}
    try:
        for provider in PROVIDERS:
            secret = (credentials or {}).get(provider) or f"{provider}-{secrets.token_hex(12)}"
            server = ProviderServer(
                provider,
                recording=_sample_dir() / "recordings" / provider,
                faults=(faults or {}).get(provider, ()),
                page_size=(page_sizes or {}).get(provider),
                credential=secret,
                latency=latency if isinstance(latency, int | float) else latency.get(provider, 0.0),
            )
            servers[provider] = server.start()
        env = {credential_env(p): s.credential for p, s in servers.items()}

        def write_config(
            folder: Path, sources: Mapping[str, Mapping[str, Any]] | None = None
        ) -> Path:
            return _write_live_config(servers, Path(folder), sources)

        yield SampleMonth(servers, write_config, env)
    finally:
        for server in servers.values():
            server.stop()
