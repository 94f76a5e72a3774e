"""Small pools of names, streets, cities and e-mail domains per country, built once with faker.

Grain: one pool per kind, strings of every country concatenated. Customers pick from them by
index (vectorised), so faker runs a few thousand times whatever the number of orders.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import polars as pl
from faker import Faker
from faker.providers.address.ja_JP import Provider as JapaneseAddress

from pipelines.generator.world import COUNTRIES


@dataclass(frozen=True, eq=False)
class _Pool:
    """Strings of every country, concatenated; ``off[c]``/``size[c]`` locate country ``c``."""

    columns: dict[str, pl.Series]
    off: np.ndarray
    size: np.ndarray

    def pick(self, rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
        return self.off[country] + (rng.random(len(country)) * self.size[country]).astype(np.int64)


def _ascii(text: str) -> str:
    text = text.replace("ß", "ss").replace("ø", "o").replace("æ", "ae")
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]", "", folded.lower())


# Prefectures in faker's (JIS) order, as ISO 3166-2:JP names them (JP-01 ... JP-47).
_JP_PREFECTURES = (
    "Hokkaido", "Aomori", "Iwate", "Miyagi", "Akita", "Yamagata", "Fukushima", "Ibaraki",
    "Tochigi", "Gunma", "Saitama", "Chiba", "Tokyo", "Kanagawa", "Niigata", "Toyama", "Ishikawa",
    "Fukui", "Yamanashi", "Nagano", "Gifu", "Shizuoka", "Aichi", "Mie", "Shiga", "Kyoto", "Osaka",
    "Hyogo", "Nara", "Wakayama", "Tottori", "Shimane", "Okayama", "Hiroshima", "Yamaguchi",
    "Tokushima", "Kagawa", "Ehime", "Kochi", "Fukuoka", "Saga", "Nagasaki", "Kumamoto", "Oita",
    "Miyazaki", "Kagoshima", "Okinawa",
)  # fmt: skip
_JP_NAMES: dict[str, str] = dict(zip(JapaneseAddress.prefectures, _JP_PREFECTURES, strict=True))
# Faker's US states include the freely associated states (not US subdivisions).
_US_STATE_FOR = {"FM": "PA", "MH": "OH", "PW": "GA"}


def _iso_province(country: str, province: str) -> str | None:
    """The province as ISO 3166-2 names it (code or name), or None where addresses carry none.

    Faker's Japanese prefectures are in kanji, its Dutch Friesland is ISO's Fryslân, and its
    British historic counties are mostly not ISO subdivisions (British addresses rarely give
    one)."""
    if country == "US":
        return _US_STATE_FOR.get(province, province)
    if country == "JP":
        return _JP_NAMES[province]
    if country == "NL" and province == "Friesland":
        return "Fryslân"
    if country == "GB":
        return None
    return province


def _make_pool(per_country: list[dict[str, list[object]]]) -> _Pool:
    sizes = np.array([len(next(iter(d.values()))) for d in per_country], dtype=np.int64)
    off = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    names = list(per_country[0])
    columns = {
        name: pl.Series(name, [v for d in per_country for v in d[name]], strict=False)
        for name in names
    }
    return _Pool(columns, off, sizes)


@dataclass(frozen=True, eq=False)
class _Pools:
    names: _Pool  # first, last, first_ascii, last_ascii
    streets: _Pool  # street
    cities: _Pool  # city, province, iso_province, zip, tax_rate
    domains: _Pool  # domain
    address2: pl.Series  # US/CA-style secondary addresses


@functools.cache
def faker_pools() -> _Pools:
    names: list[dict[str, list[object]]] = []
    streets: list[dict[str, list[object]]] = []
    cities: list[dict[str, list[object]]] = []
    domains: list[dict[str, list[object]]] = []
    for number, country in enumerate(COUNTRIES):
        fake = Faker(country.locale)
        fake.seed_instance(1000 + number)
        first: list[object] = []
        last: list[object] = []
        first_a: list[object] = []
        last_a: list[object] = []
        for _ in range(120):
            if country.code == "JP":
                f_kanji, _kana, f_roman = fake.first_name_pair()  # type: ignore[attr-defined]
                l_kanji, _kana, l_roman = fake.last_name_pair()  # type: ignore[attr-defined]
                first.append(f_kanji)
                last.append(l_kanji)
                first_a.append(_ascii(f_roman))
                last_a.append(_ascii(l_roman))
            else:
                f, la = fake.first_name(), fake.last_name()
                first.append(f)
                last.append(la)
                first_a.append(_ascii(f) or "customer")
                last_a.append(_ascii(la) or "shop")
        names.append({"first": first, "last": last, "first_ascii": first_a, "last_ascii": last_a})
        if country.code == "JP":
            street_list: list[object] = [
                f"{fake.town()}{fake.chome()}{fake.ban()}"  # type: ignore[attr-defined]
                for _ in range(150)
            ]
        else:
            street_list = [fake.street_name() for _ in range(150)]
        streets.append({"street": street_list})
        city: list[object] = []
        province: list[object] = []
        zips: list[object] = []
        tax: list[object] = []
        rates = dict(country.tax_by_province)
        for _ in range(150):
            if country.code == "US":
                prov, z = fake.state_abbr(include_territories=False), fake.zipcode()  # type: ignore[attr-defined]
            elif country.code == "CA":
                prov, z = fake.province_abbr(), fake.postcode()  # type: ignore[attr-defined]
            elif country.code == "GB":
                prov, z = fake.county(), fake.postcode()  # type: ignore[attr-defined]
            elif country.code == "DE":
                prov, z = fake.state(), fake.postcode()  # type: ignore[attr-defined]
            elif country.code == "FR":
                prov, z = fake.department_name(), fake.postcode()  # type: ignore[attr-defined]
            elif country.code == "NL":
                prov, z = fake.province(), fake.postcode()  # type: ignore[attr-defined]
            else:
                prov, z = fake.prefecture(), fake.zipcode()  # type: ignore[attr-defined]
            city.append(fake.city())
            province.append(prov)
            zips.append(z)
            tax.append(rates.get(str(prov), country.tax))
        iso: list[object] = [_iso_province(country.code, str(p)) for p in province]
        cities.append(
            {"city": city, "province": province, "iso_province": iso, "zip": zips, "tax_rate": tax}
        )
        domains.append({"domain": list(country.email_domains)})
    us = Faker("en_US")
    us.seed_instance(999)
    address2 = pl.Series("address2", [us.secondary_address() for _ in range(60)])  # type: ignore[attr-defined]
    return _Pools(
        names=_make_pool(names),
        streets=_make_pool(streets),
        cities=_make_pool(cities),
        domains=_make_pool(domains),
        address2=address2,
    )
