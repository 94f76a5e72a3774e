"""Which parser reads a landing file: detected from its content, not trusted from its name.

Every parser module exposes

- ``sniff(path: Path, head: bytes) -> bool``: True when the file (``head`` = its first 64 KiB)
  is in this format; cheap, never raises;
- ``parse(con, path: Path, table: str) -> ParseResult``: creates ``table`` (the generic
  order-line columns of ``orderlens.contracts.GENERIC_FIELDS``, any extra columns ignored) and
  ``<table>_lines`` (``_record_no``, ``_line``: the source record each row comes from and its
  physical line, positionally aligned with ``table``), plus any of the optional streams
  ``<table>_payments|_events|_refunds|_products`` (columns of ``RAW_STREAMS`` + ``_record_no``
  + ``_line``; a record may feed only a stream, e.g. a refund payload).
  ``ParseResult.records = loaded + rejected_records`` counts source records (a CSV row, a JSON
  order); every rejected record has a ``Reject`` naming its line, column and reason.

Formats that need several files of a source together (Olist's relational tables) set
``assembled``: their files are stored as they are, and the module's
``assemble(con, files) -> dict[str, str]`` returns the SQL of the order lines and streams of
those files (see ``pipelines/defs/ingest/tables.py``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

HEAD_BYTES = 65536


@dataclass(frozen=True)
class SourceFormat:
    """One input format and the module that parses it."""

    name: str
    module: str
    description: str
    assembled: bool = False

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)


FORMATS: tuple[SourceFormat, ...] = (
    SourceFormat(
        "shopify_csv",
        "pipelines.sources.shopify_csv",
        "Shopify admin Orders → Export CSV (any layout: 79, 78, 75, 73 or 34 columns)",
    ),
    SourceFormat(
        "shopify_json",
        "pipelines.sources.shopify_json",
        "Shopify REST Order JSON (an order, a list of orders, or NDJSON)",
    ),
    SourceFormat(
        "woocommerce_json",
        "pipelines.sources.woocommerce_json",
        "WooCommerce REST v3 order JSON (an order, a list, or NDJSON)",
    ),
    SourceFormat(
        "olist",
        "pipelines.sources.olist",
        "Olist marketplace relational export (orders, items, payments, reviews, customers, "
        "products, sellers, geolocation, category translation)",
        assembled=True,
    ),
    SourceFormat(
        "online_retail",
        "pipelines.sources.online_retail",
        "UCI Online Retail invoice lines (InvoiceNo, StockCode, ...)",
    ),
    SourceFormat("cdnow", "pipelines.sources.cdnow", "CDNOW fixed-width transaction log"),
    SourceFormat(
        "generic",
        "pipelines.sources.generic",
        "OrderLens generic format (CSV, Parquet or NDJSON; see the README)",
    ),
)
"""In detection order: the generic format comes last and takes any CSV, Parquet or NDJSON
file, so a file in no known layout is reported against the generic contract (missing and
unexpected columns named)."""

FORMAT_BY_NAME: dict[str, SourceFormat] = {f.name: f for f in FORMATS}


def family(file_format: str) -> str:
    """The format name of a stored ``ingest_files.file_format`` (``olist:orders`` → olist;
    the generic parser's ``csv``/``parquet``/``ndjson`` → generic)."""
    name = file_format.split(":", 1)[0]
    return name if name in FORMAT_BY_NAME else "generic"


def read_head(path: Path) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(HEAD_BYTES)


def detect(path: Path) -> SourceFormat:
    """The format of a landing file (the generic format when nothing else claims it)."""
    head = read_head(path)
    for source_format in FORMATS[:-1]:
        if source_format.load().sniff(path, head):
            return source_format
    return FORMATS[-1]
