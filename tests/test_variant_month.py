"""A variant of the bundled sample month, fetched live from local servers: every problem
planted in it is found with the right rule and classification, and nothing else.

Built from the bundled month's wire records and ledger (beside it, not instead of it):

1. an Amberflo ``totalPrice`` one cent above its parts (the ledger books the same);
2. a Stripe line item's amount changed without changing the subtotal;
3. a ledger row in ``EURO`` (not a currency code);
4. Amberflo float64 noise, both directions, on clean invoices (no finding);
5. a ledger that books Amberflo invoices as ``<customer>/<plan>/<date>`` (a key
   expression on the pairing; no finding);
6. Commet invoices booked over two or three ledger lines under one reference (the
   pairing is 1:N), one group off by three cents;
7. a cut-off invoice on each side of the period end, fetched live: Stripe dates one
   1 November and the ledger posts it 31 October; Stripe dates the other 31 October
   and the ledger posts it 2 November (the ledger's period is its posting date);
8. Frontier's invoices spread over three organizations and a fourth without any,
   fetched with ``org_ids: all``.

The bundled month's own planted findings are all still there (its README lists
them); the test checks the variant's findings against them plus exactly 1–8.
"""

from __future__ import annotations

import copy
import csv
import io
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from reconcile import cli
from reconcile.resources import packaged_path
from reconcile.testing import ProviderServer, sample_records

SAMPLE = packaged_path("sample_data")
NOV_1, OCT_31_NOON = 1793491200, 1793448000
RUNE = "rune-security/1/940a2233-8c5e-48d4-8a57-cec1ceb69c6f/2026-10-01"
AURORA = "aurora-labs/1/9e13cb10-faee-450e-9cc9-f2f1e2097d7b/2026-10-01"
TUNDRA = "tundra-maps/1/9e13cb10-faee-450e-9cc9-f2f1e2097d7b/2026-10-01"
LINE_CHANGED = "in_1Q6pD4DfZUC623VbmS4InnRW"
IN_EURO = "in_1QPObNRTYAxjOSDpVfRFRE1m"  # booked by ledger JE-2026-10-0007
TEMPLATE = "in_1Qie8nPgIFgipVrqoH8tAxHT"  # a plain paid USD 100.00 invoice, one line
#: Commet invoice numbers booked as split postings: (lines, cents the last line is off)
SPLITS = {"INV-1001": (2, 0), "INV-1002": (3, 0), "INV-1009": (2, 3)}
ORGS = ("org-northwind", "org-b", "org-c")
KEY = "regexp_replace(invoice_id, '^([^/]+)/[^/]+/', '\\1/')"


def _noisy(value: Decimal, up: bool) -> Decimal:
    """``value`` as a float64 computation might print it: one unit in the last place away."""
    import math

    as_float = float(value)
    noisy = math.nextafter(as_float, math.inf if up else -math.inf)
    return Decimal(repr(noisy))


def _amberflo() -> list[dict[str, Any]]:
    records = copy.deepcopy(sample_records("amberflo"))
    for record in records:
        key, bill = record["invoiceKey"], record["totalBill"]
        iid = f"{key['customerId']}/{key['productId']}/{key['productPlanId']}/2026-10-01"
        if iid == RUNE:  # 1: one cent above its parts
            bill["totalPrice"] += Decimal("0.01")
        elif iid == AURORA:  # 4: float noise, up and down, on a clean invoice
            for name, up in (
                ("totalPriceBeforeDiscount", True),
                ("totalPrice", False),
                ("itemPrice", False),
                ("totalDiscount", True),
            ):
                bill[name] = _noisy(bill[name], up)
        elif iid == TUNDRA:
            bill["itemPrice"] = _noisy(bill["itemPrice"], True)
            for item in record["productItemInvoices"]:
                item["totalBill"]["price"] = _noisy(item["totalBill"]["price"], False)
    assert any("99999" in str(r["totalBill"]["totalPrice"]) for r in records)  # noise sent
    return records


def _stripe_cutoff(
    template: dict[str, Any], iid: str, created: int, start: int, end: int
) -> dict[str, Any]:
    record = copy.deepcopy(template)
    record.update(
        id=iid,
        number=f"CUT-{iid[-3:].upper()}",
        created=created,
        period_start=start,
        period_end=end,
        effective_at=created,
    )
    record["status_transitions"] = {**record["status_transitions"], "finalized_at": created}
    for i, line in enumerate(record["lines"]["data"]):
        line.update(id=f"il_{iid}_{i}", invoice=iid, period={"start": start, "end": end})
    return record


def _stripe() -> list[dict[str, Any]]:
    records = copy.deepcopy(sample_records("stripe"))
    by_id = {r["id"]: r for r in records}
    by_id[LINE_CHANGED]["lines"]["data"][0]["amount"] += 100  # 2: subtotal unchanged
    template = by_id[TEMPLATE]
    records += [  # 7: one dated 1 November (created then), one 31 October
        _stripe_cutoff(template, "in_cutoff_nov", NOV_1 + 1800, NOV_1, NOV_1 + 30 * 86400),
        _stripe_cutoff(template, "in_cutoff_oct", OCT_31_NOON, OCT_31_NOON, OCT_31_NOON),
    ]
    return records


def _frontier(stripe: list[dict[str, Any]]) -> list[dict[str, Any]]:
    records = copy.deepcopy(sample_records("frontier"))
    template = records[0]
    for iid, start in (
        ("in_cutoff_nov", "2026-11-01T00:00:00Z"),
        ("in_cutoff_oct", "2026-10-31T12:00:00Z"),
    ):
        records.append(
            {
                **template,
                "id": f"fr-{iid}",
                "provider_id": iid,
                "amount": "10000",
                "period_start_at": start,
                "period_end_at": start,
                "effective_at": start,
                "created_at": start,
            }
        )
    return [{**r, "__org": ORGS[i % 3]} for i, r in enumerate(records)]  # 8


def _ledger() -> str:
    text = (SAMPLE / "ledger.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    out: list[dict[str, str]] = []
    for row in rows:
        ref = row["reference"]
        if row["source_system"] == "amberflo":  # 5: <customer>/<plan>/<date>
            customer, _product, plan, date = ref.split("/")
            row["reference"] = f"{customer}/{plan}/{date}"
            if ref.startswith("rune-security/"):
                row["amount"] = "1124.01"  # books the same (wrong) total as Amberflo
        if ref == IN_EURO:
            row["currency"] = "EURO"  # 3
        if row["source_system"] == "commet" and ref in SPLITS:  # 6
            parts, off = SPLITS[ref]
            cents = int(Decimal(row["amount"]) * 100)
            shares = [cents // parts] * (parts - 1)
            shares.append(cents - sum(shares) + off)
            for i, share in enumerate(shares):
                out.append(
                    {
                        **row,
                        "entry_id": f"{row['entry_id']}-{i + 1}",
                        "amount": f"{Decimal(share) / 100:.2f}",
                    }
                )
            continue
        out.append(row)
    for entry, posted, ref in (
        ("JE-CUT-1", "2026-10-31", "in_cutoff_nov"),  # 7
        ("JE-CUT-2", "2026-11-02", "in_cutoff_oct"),
    ):
        out.append(
            {
                **rows[15],
                "entry_id": entry,
                "posted_on": posted,
                "reference": ref,
                "memo": "cut-off",
            }
        )
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(out)
    return buffer.getvalue()


def _config(folder: Path, servers: dict[str, ProviderServer]) -> Path:
    recordings = SAMPLE / "recordings"

    def live(provider: str, options: str) -> str:
        return (
            f"{{provider: {provider}, base_url: '{servers[provider].url}', "
            f"credential_env: VARIANT_{provider.upper()}_KEY, options: {options}}}"
        )

    (folder / "ledger.csv").write_text(_ledger(), encoding="utf-8")
    config = f"""
name: Northwind Cloud Ltd — October 2026 close (variant)
period: {{start: 2026-10-01, end: 2026-11-01}}
sources:
  stripe: {live("stripe", "{}")}
  frontier: {live("frontier", "{org_ids: all}")}
  commet: {{provider: commet, recording: {recordings / "commet"},
            options: {{api_version: "2026-07-31"}}}}
  amberflo: {live("amberflo", "{currency: USD}")}
  f5xc: {{provider: f5xc, recording: {recordings / "f5xc"}, options: {{customer_id: northwind}}}}
  ledger:
    provider: file
    path: ledger.csv
    period_field: issued_at
    columns: {{invoice_id: entry_id, issued_at: posted_on, origin_system: source_system,
               external_ref: reference, customer_name: customer, currency: currency,
               total_minor: amount, memo: memo}}
pairings:
  - {{name: stripe-frontier, left: {{source: stripe, key: invoice_id}},
      right: {{source: frontier, key: external_ref}}}}
  - {{name: stripe-ledger, left: {{source: stripe, key: invoice_id}},
      right: {{source: ledger, key: external_ref, filter: "origin_system = 'stripe'"}}}}
  - name: commet-ledger
    left: {{source: commet, key: invoice_number}}
    right: {{source: ledger, key: external_ref, filter: "origin_system = 'commet'"}}
    cardinality: "1:N"
  - name: amberflo-ledger
    left:
      source: amberflo
      key: {KEY}
    right: {{source: ledger, key: external_ref, filter: "origin_system = 'amberflo'"}}
  - {{name: f5xc-ledger, left: {{source: f5xc, key: invoice_id}},
      right: {{source: ledger, key: external_ref, filter: "origin_system = 'f5xc'"}}}}
"""
    path = folder / "close.yaml"
    path.write_text(config, encoding="utf-8")
    return path


def _run(args: list[str], env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli.main, ["run", *args], env=env, catch_exceptions=False)


def _identity(f: dict[str, Any]) -> tuple[Any, ...]:
    return (
        f["rule_id"],
        f["source"],
        f["invoice_id"],
        f["counterpart_source"],
        f["counterpart_invoice_id"],
        f["classification"],
        f["delta_minor"],
    )


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("bundled")
    assert _run([str(SAMPLE / "close.yaml"), "--out", str(out)]).exit_code == 1
    return json.loads((out / "findings.json").read_text())


@pytest.fixture(scope="module")
def variant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("variant")
    stripe = _stripe()
    options = {
        "frontier": {"organizations": [*ORGS, "org-idle"]},
        "amberflo": sample_options_for("amberflo"),
    }
    records = {"stripe": stripe, "frontier": _frontier(stripe), "amberflo": _amberflo()}
    servers = {
        p: ProviderServer(p, records=r, options=options.get(p, {})).start()
        for p, r in records.items()
    }
    try:
        config = _config(folder, servers)
        env = {f"VARIANT_{p.upper()}_KEY": s.credential for p, s in servers.items()}
        result = _run([str(config), "--out", str(folder / "out")], env=env)
        assert result.exit_code == 1, result.output
        yield config, folder
    finally:
        for server in servers.values():
            server.stop()


def sample_options_for(provider: str) -> dict[str, Any]:
    from reconcile.testing import sample_options

    return sample_options(provider)


def test_exactly_the_planted_problems(
    bundled: list[dict[str, Any]], variant: tuple[Path, Path]
) -> None:
    _, folder = variant
    found = json.loads((folder / "out" / "findings.json").read_text())
    planted = {
        ("amberflo.total_identity", "amberflo", RUNE, None, None, None, 1),  # 1
        ("stripe.lines_sum_to_subtotal", "stripe", LINE_CHANGED, None, None, None, -100),  # 2
        ("currency.iso4217", "ledger", "JE-2026-10-0007", None, None, None, None),  # 3
        (
            "xsrc.currency_agrees",
            "stripe",
            IN_EURO,
            "ledger",
            "JE-2026-10-0007",
            "currency_mismatch",
            None,
        ),
        (
            "xsrc.total_agrees",
            "commet",
            "inv_lH7SVjRBjSed",
            "ledger",
            "JE-2026-10-0033-1, JE-2026-10-0033-2",
            "amount_mismatch",
            3,
        ),  # 6
        ("xsrc.counterpart_present", "ledger", "JE-CUT-1", "stripe", None, "timing", 10000),  # 7
        ("xsrc.counterpart_present", "stripe", "in_cutoff_oct", "ledger", None, "timing", -10000),
    }
    got = {_identity(f) for f in found}
    want = {_identity(f) for f in bundled} | planted
    assert got - want == set(), "reported but not planted"
    assert want - got == set(), "planted but not reported"
    assert len(found) == len(bundled) + len(planted)


def test_the_month_ties_out_and_the_pieces_were_read(variant: tuple[Path, Path]) -> None:
    _, folder = variant
    summary = json.loads((folder / "out" / "summary.json").read_text())
    assert all(r["ties"] for r in summary["reconciliation"])
    commet = next(r for r in summary["reconciliation"] if r["pairing"] == "commet-ledger")
    assert commet["counts"]["right_matched"] == 30 + 4  # 3 invoices over 7 lines
    amberflo = next(r for r in summary["reconciliation"] if r["pairing"] == "amberflo-ledger")
    assert amberflo["counts"]["left_unmatched"] == 0  # every invoice found by the key
    sources = {s["name"]: s for s in summary["sources"]}
    assert sources["frontier"]["records_read"] == 32  # three organizations, one idle
    # the widened Stripe fetch: the November invoice is read for timing, out of the
    # close and of its counts
    stripe = sources["stripe"]
    assert (stripe["records_read"], stripe["checked"], stripe["neighbours_read"]) == (31, 31, 1)
    unique = next(
        c
        for c in summary["coverage"]
        if (c["rule_id"], c["target"]) == ("unique.external_ref", "ledger")
    )
    # every ledger row on the 1:N side (32 Commet bookings, three of them split into
    # seven lines) is N/A for uniqueness of external_ref; the others are checked
    assert unique["not_applicable_rows"] == 32 + 4 and unique["failed"] == 1


def test_a_replay_gives_the_same_bytes(variant: tuple[Path, Path]) -> None:
    config, folder = variant
    again = folder / "replayed"
    result = _run([str(config), "--out", str(again), "--replay", str(folder / "out")])
    assert result.exit_code == 1, result.output
    for name in ("findings.json", "findings.csv", "findings.parquet"):
        assert (again / name).read_bytes() == (folder / "out" / name).read_bytes(), name
