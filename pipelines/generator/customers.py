"""Customers: one row per customer (registered first, then guests) with everything orders
reuse: name, address, e-mail, phone, saved card, devices, IP.

Grain: one customer. Vectorised over all customers at once; strings come from the faker pools.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from pipelines.generator.pools import faker_pools
from pipelines.generator.vectors import (
    digit_strings,
    hex_strings,
    ipv4_strings,
    pick,
    weighted_choice,
)
from pipelines.generator.world import (
    APP_USER_AGENTS,
    CARD_BRANDS,
    COUNTRIES,
    VALID_PHONE_PREFIXES,
    WEB_USER_AGENTS,
)


def make_customers(
    rng: np.random.Generator,
    country: np.ndarray,
    n_registered: int,
    signed_up: np.ndarray,
    *,
    valid_contacts: bool = False,
    local_ips: bool = False,
) -> pl.DataFrame:
    """One row per customer (registered first, then guests), with everything orders reuse.

    ``valid_contacts`` (the merchant): phone numbers valid for their country
    (:data:`~pipelines.generator.world.VALID_PHONE_PREFIXES`) and provinces that ISO 3166-2
    knows (blank in Great Britain), so that clean orders pass the entry-accuracy rules. False
    keeps the single-file writer's draws (and the committed sample) as they were.

    ``local_ips`` (the merchant): each customer's usual IP address is in their country's
    address blocks (:data:`~pipelines.generator.world.IP_BLOCKS`), so IP-to-country works on
    the merchant's orders. False keeps the single-file writer's addresses.
    """
    pools = faker_pools()
    n = len(country)
    names = pools.names.pick(rng, country)
    last_names = pools.names.pick(rng, country)
    cities = pools.cities.pick(rng, country)
    streets = pools.streets.pick(rng, country)
    domains = pools.domains.pick(rng, country)
    spec_nanp = np.array([c.nanp for c in COUNTRIES])[country]
    nsn_len = np.array([c.nsn_len for c in COUNTRIES])[country]

    # Phone: national significant number = country prefix + random digits.
    prefixes: list[str] = []
    prefix_off = []
    country_prefixes = [
        VALID_PHONE_PREFIXES.get(c.code, c.phone_prefixes) if valid_contacts else c.phone_prefixes
        for c in COUNTRIES
    ]
    for own in country_prefixes:
        prefix_off.append(len(prefixes))
        prefixes.extend(own)
    prefix_count = np.array([len(own) for own in country_prefixes])[country]
    prefix_idx = np.array(prefix_off)[country] + (rng.random(n) * prefix_count).astype(np.int64)
    prefix = pick(prefixes, prefix_idx)
    prefix_len = prefix.str.len_chars().to_numpy()
    exchange = rng.integers(200, 1000, n)
    exchange = np.where(exchange == 555, 556, exchange)
    nanp_rest = pl.Series(exchange * 10_000 + rng.integers(0, 10_000, n)).cast(pl.String)
    other_rest = digit_strings(rng, np.maximum(nsn_len - prefix_len, 1), n)

    # House number and address line 1 in each country's style.
    house = pl.Series(rng.integers(1, 400, n) * np.where(rng.random(n) < 0.3, 7, 1)).cast(pl.String)
    code = pick([c.code for c in COUNTRIES], country)
    df = pl.DataFrame(
        {
            "country": code,
            "dial": pick([c.dial for c in COUNTRIES], country),
            "nanp": spec_nanp,
            "first": pools.names.columns["first"].gather(names),
            "last": pools.names.columns["last"].gather(last_names),
            "first_ascii": pools.names.columns["first_ascii"].gather(names),
            "last_ascii": pools.names.columns["last_ascii"].gather(last_names),
            "street": pools.streets.columns["street"].gather(streets),
            "house": house,
            "city": pools.cities.columns["city"].gather(cities),
            "province": pools.cities.columns["iso_province" if valid_contacts else "province"]
            .gather(cities)
            .alias("province"),
            "zip": pools.cities.columns["zip"].gather(cities),
            "tax_rate": pools.cities.columns["tax_rate"].gather(cities).cast(pl.Float64),
            "domain": pools.domains.columns["domain"].gather(domains),
            "prefix": prefix,
            "nanp_rest": nanp_rest,
            "other_rest": other_rest,
            "email_style": rng.integers(0, 5, n),
            "email_number": rng.integers(1, 100, n),
            "phone_style": rng.integers(0, 4, n),
            "has_address2": rng.random(n),
            "address2_pick": pools.address2.gather(rng.integers(0, len(pools.address2), n)),
            "flat": pl.Series(rng.integers(1, 40, n)).cast(pl.String),
            "signed_up": signed_up,
            "registered": np.arange(n) < n_registered,
            "card_brand": weighted_choice(rng, [b[1] for b in CARD_BRANDS], n),
            "card_last4": digit_strings(rng, 4, n),
            "card_token": "tok_" + hex_strings(rng, n, 12),
            "web_ua": pick(WEB_USER_AGENTS, rng.integers(0, len(WEB_USER_AGENTS), n)),
            "app_ua": pick(APP_USER_AGENTS, rng.integers(0, len(APP_USER_AGENTS), n)),
            "web_device": hex_strings(rng, n, 16),
            "app_device": hex_strings(rng, n, 16).str.to_uppercase(),
            "ip": ipv4_strings(rng, n, country if local_ips else None),
        }
    )
    fa, la = pl.col("first_ascii"), pl.col("last_ascii")
    number = pl.col("email_number").cast(pl.String)
    style = pl.col("email_style")
    local = (
        pl.when(style == 0)
        .then(fa + "." + la)
        .when(style == 1)
        .then(fa + la + number)
        .when(style == 2)
        .then(fa.str.slice(0, 1) + la)
        .when(style == 3)
        .then(fa + "_" + la + number)
        .otherwise(la + "." + fa)
    )
    app = pl.col("app_device")
    df = df.with_columns(
        local.alias("local"),
        pl.when(pl.col("nanp"))
        .then(pl.col("prefix") + pl.col("nanp_rest"))
        .otherwise(pl.col("prefix") + pl.col("other_rest"))
        .alias("nsn"),
        pl.when(pl.col("country") == "JP")
        .then(pl.col("street") + pl.col("house") + "号")
        .when(pl.col("country").is_in(["DE", "NL"]))
        .then(pl.col("street") + " " + pl.col("house"))
        .when(pl.col("country") == "FR")
        .then(pl.col("house") + ", " + pl.col("street"))
        .otherwise(pl.col("house") + " " + pl.col("street"))
        .alias("address1"),
        pl.when(pl.col("country").is_in(["US", "CA"]) & (pl.col("has_address2") < 0.15))
        .then(pl.col("address2_pick"))
        .when((pl.col("country") == "GB") & (pl.col("has_address2") < 0.12))
        .then("Flat " + pl.col("flat"))
        .alias("address2"),
        (
            app.str.slice(0, 8)
            + "-"
            + app.str.slice(8, 4)
            + "-"
            + app.str.slice(12, 4)
            + "-"
            + app.str.slice(16, 4)
            + "-"
            + app.str.slice(20, 12)
        ).alias("app_device"),
        pl.when(pl.col("registered"))
        .then("C" + pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(7))
        .alias("customer_id"),
    )
    # The same e-mail never belongs to two customers.
    email = pl.col("local") + "@" + pl.col("domain")
    unique = pl.col("local") + pl.int_range(0, pl.len()).cast(pl.String) + "@" + pl.col("domain")
    df = df.with_columns(
        pl.when(~pl.col("registered"))
        .then(pl.lit(None, pl.String))
        .when(email.is_first_distinct())
        .then(email)
        .otherwise(unique)
        .alias("email")
    )
    return df.drop(
        "prefix",
        "nanp_rest",
        "other_rest",
        "has_address2",
        "address2_pick",
        "flat",
        "local",
        "first_ascii",
        "last_ascii",
        "street",
        "house",
        "domain",
        "email_style",
        "email_number",
    )
