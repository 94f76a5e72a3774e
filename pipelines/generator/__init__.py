"""Synthetic merchant data: order files in the generic interchange format, reference inputs,
and injected defects with their ground truth.

A pure package (numpy, polars, pyarrow, faker; no Dagster, no Streamlit). Entry points:

* :func:`generate_merchant` writes a whole landing folder of a realistic multi-channel
  merchant, the reference inputs and a ground-truth table of every injected defect;
* :func:`write_generic_orders` writes one order file (benchmarks);
* :func:`write_reference` writes the reference inputs of a catalogue;
* :func:`write_demo_sample` re-makes the committed ``pipelines/sample_landing/``.
"""

import pipelines.generator.defects_amounts  # noqa: F401  (registers its injectors)
from orderlens.reasons import ReasonCode
from pipelines.generator import (  # noqa: F401  (register their injectors)
    defects_fields,
    fraud,
)
from pipelines.generator.audience import Audience
from pipelines.generator.catalog import Catalog, build_catalog
from pipelines.generator.demand import (
    Demand,
    DemandSpike,
    Promotion,
    Seasonality,
    default_promotions,
    default_spike,
)
from pipelines.generator.demo import Defect, DemoSample, write_demo_sample
from pipelines.generator.files import FileReport
from pipelines.generator.ground_truth import (
    GROUND_TRUTH_SCHEMA,
    GroundTruthRow,
    default_ground_truth_path,
    read_ground_truth,
    write_ground_truth,
)
from pipelines.generator.injectors import (
    INJECTORS,
    Injector,
    InjectorSpec,
    RecordMark,
    default_injector_specs,
    parse_injector_specs,
    register_injector,
)
from pipelines.generator.merchant import (
    SOURCES,
    GenerateReport,
    MerchantProfile,
    Source,
    generate_merchant,
)
from pipelines.generator.orders import PARQUET_SCHEMA, WriteStats, write_generic_orders
from pipelines.generator.reference import write_ip_ranges, write_reference

__all__ = [
    "GROUND_TRUTH_SCHEMA",
    "INJECTORS",
    "PARQUET_SCHEMA",
    "SOURCES",
    "Audience",
    "Catalog",
    "Defect",
    "Demand",
    "DemandSpike",
    "DemoSample",
    "FileReport",
    "GenerateReport",
    "GroundTruthRow",
    "Injector",
    "InjectorSpec",
    "MerchantProfile",
    "Promotion",
    "ReasonCode",
    "RecordMark",
    "Seasonality",
    "Source",
    "WriteStats",
    "build_catalog",
    "default_ground_truth_path",
    "default_injector_specs",
    "default_promotions",
    "default_spike",
    "generate_merchant",
    "parse_injector_specs",
    "read_ground_truth",
    "register_injector",
    "write_demo_sample",
    "write_generic_orders",
    "write_ground_truth",
    "write_ip_ranges",
    "write_reference",
]
