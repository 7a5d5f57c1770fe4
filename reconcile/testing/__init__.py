"""Local provider servers: try reconcile without credentials, and test the live fetchers.

:class:`ProviderServer` runs one provider's invoice API on ``127.0.0.1`` (an
ephemeral port, a background thread) from invoice records in that provider's
wire format. Pages are computed from the records (never canned responses), the
provider's filters are honoured, and faults can be injected::

    from reconcile.testing import Fault, ProviderServer, commet_invoices

    with ProviderServer("commet", records=commet_invoices(250), page_size=100,
                        faults=[Fault("429", request=2, retry_after="1")]) as srv:
        srv.url          # base URL for a config's ``base_url``
        srv.credential   # the secret it accepts ("test-secret" unless given)
        srv.requests     # what was asked, and what was served

What each server speaks (paths below ``url``; the facts are those of
``providers.md``; where a provider's behaviour is unconfirmed the choice is noted):

* ``f5xc``: ``Authorization: APIToken <credential>``; ``GET
  /api/web/namespaces/{namespace}/usage/invoices/custom_list?limit=`` →
  ``{"invoices": [...]}`` (no pagination; ``limit`` keeps the first records);
  ``GET /api/web/namespaces/{namespace}/usage/invoice_pdf?name=`` →
  ``{"pdf": <base64 of a small valid PDF>}`` (:meth:`ProviderServer.pdf`).
  Errors: gRPC-gateway ``{"code", "message", "details"}`` (the spec leaves the
  body open). Options: ``namespace`` (default ``system``).
* ``amberflo``: ``X-API-KEY``; ``GET /payments/billing/customer-product-invoice/all
  ?customerId=&productId=&fromCache=&withPaymentStatus=`` → bare array, or the
  body ``null`` for a customer without invoices; ``GET
  /payments/billing/customer-product-invoice`` (``latest=true`` or
  ``productPlanId``/``year``/``month``/``day``) → one invoice; ``GET /customers`` →
  ``[{"customerId", "customerName", ...}]``. Errors: ``{"message"}`` (unconfirmed).
  Options: ``customers`` (account customers in order, also those without invoices),
  ``empty_body`` (``"null"``, ``"[]"`` or ``""``).
* ``commet``: ``x-api-key``; ``Commet-Version`` header (default option
  ``api_version``, ``2026-07-31``) picks the shape: before 2026-07-24 the
  ``{"success": true, "data", "hasMore", "nextCursor"}`` envelope with full
  invoices, 2026-07-24 ``{"object": "list", ...}`` with full invoices, from
  2026-07-31 list items without ``lineItems``, ``creditApplied``, ``planName``,
  ``poNumber``, ``reference``. ``GET /api/v1/invoices?limit=&cursor=&customerId=
  &status=&subscriptionId=`` (``limit`` 1..100, default 25; the cursor is the
  last item's ``createdAt`` when those are unique, as recorded, else opaque);
  ``GET /api/v1/invoices/{id}``. Errors: ``error: {type, code, message, param,
  details, doc_url}`` (inside ``{"success": false}`` before 2026-07-24).
* ``frontier``: ``Authorization: Basic base64(<credential>)`` (or
  ``base64(client_id:<credential>)``) or ``Bearer <credential>``. Option ``api``:
  ``connect`` (default, ≥ v0.91: ``POST
  /raystack.frontier.v1beta1.FrontierService/ListInvoices`` with a JSON body
  ``{"org_id", "nonzero_amount_only", "expand"}``; zero values omitted; errors
  ``{"code": "not_found", "message"}``), ``rest`` (≤ v0.90: ``GET
  /v1beta1/organizations/{org_id}/billing[/{billing_id}]/invoices?nonzero_amount_only=
  &expand=``; every field present, ``"0"``, ``""`` and ``null`` for unset values;
  errors ``{"code": 5, "message", "details"}``) or ``both``. ``amount`` is an
  int64 string. Option ``org_id`` (default ``org-northwind``); a record's
  ``"__org"`` (not sent) puts it in another organization; option
  ``organizations`` lists every organization (one without invoices too;
  Connect answers ``{}`` for it), served by ``ListOrganizations`` (Connect ``POST
  …/FrontierService/ListOrganizations`` ``{"page_num", "page_size"}``, REST ``GET
  /v1beta1/organizations?page_num=&page_size=``); other orgs get ``not_found``.
  Records may carry a ``customer`` object, sent with ``expand=customer``.
* ``stripe``: ``Authorization: Bearer <credential>`` (or Basic with the key as
  user); ``GET /v1/invoices?limit=&starting_after=&ending_before=&created[gte]=
  &created[gt]=&created[lt]=&created[lte]=&created=&customer=&status=
  &include[]=total_count`` newest first (``limit`` 1..100, default 10);
  ``GET /v1/invoices/{id}``; ``GET /v1/invoices/{id}/lines?limit=&starting_after=``.
  An invoice embeds its first ``embedded_lines`` (option, default 10) line items
  with ``has_more``. Errors: ``{"error": {type, code, message, ...}}``.

Faults (:class:`Fault`) are decided per request under a lock, so a concurrent
fetcher sees them in arrival order. ``latency=`` holds every request that many
seconds before it is served (a distant API; ``ServedRequest.client_left`` when the
client hangs up meanwhile). ``python -m reconcile.testing serve``
starts the five servers of the bundled sample month and writes a live config.
"""

from __future__ import annotations

from ._exact_json import dumps, loads
from ._frontier import ORG_ID
from ._recordings import records_from_recording, sample_options, sample_records
from ._sample_month import SampleMonth, credential_env, serve_sample_month
from ._server import FAULT_KINDS, FOREVER, PROVIDERS, Fault, ProviderServer, ServedRequest
from ._synthetic import commet_invoices

__all__ = [
    "FAULT_KINDS",
    "FOREVER",
    "ORG_ID",
    "PROVIDERS",
    "Fault",
    "ProviderServer",
    "SampleMonth",
    "ServedRequest",
    "commet_invoices",
    "credential_env",
    "dumps",
    "loads",
    "records_from_recording",
    "sample_options",
    "sample_records",
    "serve_sample_month",
]
