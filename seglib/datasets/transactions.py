"""The demo transaction log: five planted behaviour types and the mess of a real export.

Cancellations, returns, guest rows, duplicates, zero prices, postage and manual lines,
all drawn by vectorised numpy from ``numpy.random.default_rng(seed)``: the same arguments
give byte-identical files. The log averages about 64.5 rows per customer (guest rows
included) with the default window, so ``n_customers=155_000`` gives ~10 million rows.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from seglib.datasets.common import CHANNELS, check_day, check_int, choose_by_group, make_ids, pick, shuffled_labels
from seglib.errors import ParamsError

#: Behaviour types planted in the transaction log (``truth.planted_type``).
PLANTED_TYPES: tuple[str, ...] = ("loyal_high_spenders", "frequent_low_spenders", "one_off_buyers", "lapsed_regulars",
                                  "new_customers")

_MIN_WINDOW_DAYS = 548  # lapsed customers need ~8 active months plus ~10 quiet ones
_DAY = 86_400
_CATEGORIES = ("Home", "Kitchen", "Garden", "Toys", "Stationery", "Gifts")
_CATEGORY_PRICE = (4.95, 3.75, 6.50, 2.95, 1.25, 2.55)
_CATEGORY_NOUNS = (
    ("CUSHION COVER", "CANDLE HOLDER", "PHOTO FRAME", "DOORSTOP", "WALL CLOCK", "LANTERN", "MIRROR", "DOORMAT"),
    ("TEA TOWEL", "CAKE TIN", "MUG", "LUNCH BOX", "APRON", "JAM JAR", "MEASURING SPOONS", "TEAPOT"),
    ("PLANT POT", "BIRD FEEDER", "WATERING CAN", "GARDEN SIGN", "HANGING BASKET", "SEED TIN", "TRUG", "WIND CHIME"),
    ("SPINNING TOP", "JIGSAW", "SKITTLES", "DOLLY", "TOY CAR", "KITE", "PUPPET", "MARBLES"),
    ("NOTEBOOK", "PENCIL SET", "GIFT TAG", "WRAPPING PAPER", "STICKER SHEET", "POSTCARD", "ERASER", "RULER"),
    ("KEYRING", "GIFT BOX", "BUNTING", "PARTY BAG", "TRINKET BOX", "MAGNET", "BAUBLE", "SNOW GLOBE"),
)
_ADJECTIVES = tuple("RED WHITE VINTAGE HEART FLORAL RETRO PINK BLUE SPOTTY REGENCY STAR GREEN".split())
_PRODUCTS_PER_CATEGORY = 80
_COUNTRIES = ("United Kingdom", "Germany", "France", "EIRE", "Netherlands", "Spain", "Belgium", "Switzerland",
              "Portugal", "Australia")
_COUNTRY_P = (0.82, 0.04, 0.035, 0.03, 0.02, 0.015, 0.012, 0.01, 0.01, 0.008)
_POSTAGE_PRICES = (15.0, 18.0, 28.0)
# shares of the mess, as fractions of invoices or rows
_GUEST_ROW_SHARE, _CANCEL_SHARE, _RETURN_SHARE = 0.10, 0.02, 0.01
_DUPLICATE_SHARE, _ZERO_PRICE_SHARE, _POSTAGE_SHARE, _MANUAL_SHARE = 0.005, 0.003, 0.4, 0.002


# How each planted type (then the anonymous guests) shops: share of customers, orders (min, max),
# bounds of the first and of the last order day as (anchor, offset) with anchor "s" window start,
# "e" last day or "f" first order day, lines per order (min, max), quantity = 1 + Poisson(qty_lam),
# Beta(a, b) of the price rank within a category, odds of _CATEGORIES and of CHANNELS.
_Behaviour = namedtuple("_Behaviour", "share orders first last lines qty_lam price_ab categories channels")
_BEHAVIOURS = (
    _Behaviour(0.12, (15, 40), (("s", 0), ("s", 120)), (("e", -30), ("e", 0)), (5, 14), 6.0, (3.0, 1.5),
               (0.25, 0.2, 0.15, 0.1, 0.1, 0.2), (0.45, 0.35, 0.2)),
    _Behaviour(0.23, (12, 30), (("s", 0), ("s", 240)), (("e", -60), ("e", 0)), (1, 3), 0.8, (1.0, 4.0),
               (0.1, 0.15, 0.05, 0.2, 0.35, 0.15), (0.3, 0.15, 0.55)),
    _Behaviour(0.30, (1, 1), (("s", 0), ("e", -180)), (("f", 0), ("f", 0)), (3, 8), 3.0, (1.5, 1.5),
               (0.15, 0.15, 0.2, 0.2, 0.1, 0.2), (0.4, 0.5, 0.1)),
    _Behaviour(0.20, (6, 15), (("s", 0), ("s", 150)), (("f", 90), ("e", -300)), (3, 8), 4.0, (1.5, 1.5),
               (0.2, 0.2, 0.25, 0.1, 0.1, 0.15), (0.35, 0.5, 0.15)),
    _Behaviour(0.15, (1, 4), (("e", -85), ("e", 0)), (("f", 0), ("e", 0)), (2, 6), 3.0, (1.5, 1.5),
               (0.15, 0.15, 0.1, 0.25, 0.15, 0.2), (0.45, 0.1, 0.45)),
    _Behaviour(0.0, (1, 1), (("s", 0), ("e", 0)), (("f", 0), ("f", 0)), (1, 8), 2.0, (1.5, 1.5),
               (0.2, 0.2, 0.15, 0.15, 0.1, 0.2), (0.4, 0.6, 0.0)),
)


def _anchored(anchor: tuple[str, int], last_day: int, first: np.ndarray | None) -> np.ndarray | int:
    """Resolve an (anchor, offset) day bound to a day number from the window start."""
    kind, offset = anchor
    base = {"s": 0, "e": last_day}.get(kind)
    return offset + (first if base is None else base)


# --------------------------------------------------------------------------- transactions
def _catalog(rng: np.random.Generator) -> tuple[list[str], list[str], np.ndarray, np.ndarray]:
    """Product catalog plus POST and M: stock codes, descriptions, category index and price."""
    per = _PRODUCTS_PER_CATEGORY
    numbers = rng.choice(np.arange(20_000, 90_000), size=per * len(_CATEGORIES), replace=False)
    suffix = np.where(rng.random(len(numbers)) < 0.15, rng.choice(list("ABCDEFGHJKLMNPRSTW"), len(numbers)), "")
    codes = [f"{n}{s}" for n, s in zip(numbers.tolist(), suffix.tolist())] + ["POST", "M"]
    descriptions, prices = [], []
    for cat, nouns in enumerate(_CATEGORY_NOUNS):
        combos = rng.choice(len(_ADJECTIVES) * len(nouns), size=per, replace=False)
        descriptions += [f"{_ADJECTIVES[c // len(nouns)]} {nouns[c % len(nouns)]}" for c in combos.tolist()]
        prices.append(np.sort(np.maximum(0.19, _CATEGORY_PRICE[cat] * rng.lognormal(0.0, 0.6, per))))
    descriptions += ["POSTAGE", "Manual"]
    category = np.append(np.repeat(np.arange(len(_CATEGORIES)), per), [len(_CATEGORIES)] * 2)
    return codes, descriptions, category, np.round(np.append(np.concatenate(prices), [0.0, 0.0]), 2)


def _customer_orders(rng: np.random.Generator, types: np.ndarray, last_day: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (customer index, day) of every order of the planted customers."""
    n_orders, first, last = (np.zeros(len(types), dtype=np.int64) for _ in range(3))
    for t, b in enumerate(_BEHAVIOURS[: len(PLANTED_TYPES)]):
        idx = np.flatnonzero(types == t)
        n_orders[idx] = rng.integers(b.orders[0], b.orders[1] + 1, len(idx))
        lo, hi = (_anchored(a, last_day, None) for a in b.first)
        first[idx] = rng.integers(lo, hi + 1, len(idx))
        lo, hi = (_anchored(a, last_day, first[idx]) for a in b.last)
        last[idx] = lo + np.floor(rng.random(len(idx)) * (hi - lo + 1)).astype(np.int64)
    customer = np.repeat(np.arange(len(types)), n_orders)
    position = np.arange(len(customer)) - np.repeat(np.cumsum(n_orders) - n_orders, n_orders)
    f, l_, n = first[customer], last[customer], n_orders[customer]
    middle = f + np.floor(rng.random(len(customer)) * (l_ - f + 1)).astype(np.int64)
    return customer, np.where(position == 0, f, np.where(position == n - 1, l_, middle))


def _orders(rng: np.random.Generator, types: np.ndarray, window: int) -> dict[str, np.ndarray]:
    """Invoice-level arrays (customer, group, time, country, channel): planted orders, then guest orders.

    Guests (customer -1, group 5) get enough orders for about 10% of the product lines.
    """
    customer, day = _customer_orders(rng, types, window - 1)
    mean_lines = np.array([np.mean(b.lines) for b in _BEHAVIOURS])
    n_guest = round(mean_lines[types[customer]].sum() * _GUEST_ROW_SHARE / (1 - _GUEST_ROW_SHARE) / mean_lines[-1])
    country_of = rng.choice(len(_COUNTRIES), len(types), p=_COUNTRY_P)
    group = np.concatenate([types[customer], np.full(n_guest, len(PLANTED_TYPES))])
    day = np.concatenate([day, rng.integers(0, window, n_guest)])
    return {
        "customer": np.concatenate([customer, np.full(n_guest, -1)]),
        "group": group,
        "time": day * _DAY + (rng.triangular(7.0, 13.0, 22.0, len(day)) * 3600).astype(np.int64),
        "country": np.concatenate([country_of[customer], rng.choice(len(_COUNTRIES), n_guest, p=_COUNTRY_P)]),
        "channel": choose_by_group(rng, group, np.array([b.channels for b in _BEHAVIOURS])),
    }


def _order_lines(rng: np.random.Generator, group: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (order index, product index, quantity) of the product lines of orders of the given groups."""
    n_lines = np.empty(len(group), dtype=np.int64)
    for g, b in enumerate(_BEHAVIOURS):
        mask = group == g
        n_lines[mask] = rng.integers(b.lines[0], b.lines[1] + 1, int(mask.sum()))
    order = np.repeat(np.arange(len(group)), n_lines)
    row_group = group[order]
    cat = choose_by_group(rng, row_group, np.array([b.categories for b in _BEHAVIOURS]))
    ab = np.array([b.price_ab for b in _BEHAVIOURS])[row_group]
    rank = (rng.beta(ab[:, 0], ab[:, 1]) * _PRODUCTS_PER_CATEGORY).astype(np.int64)
    rank = np.minimum(rank, _PRODUCTS_PER_CATEGORY - 1)
    qty = 1 + rng.poisson(np.array([b.qty_lam for b in _BEHAVIOURS])[row_group])
    return order, cat * _PRODUCTS_PER_CATEGORY + rank, qty


def _cancel(rng: np.random.Generator, orders: dict, line_order: np.ndarray, window: int) -> tuple[dict, np.ndarray]:
    """Append ~2% "C" invoices, each a later copy of a planted customer's order.

    Returns the extended invoice arrays (with a "cancel" flag) and, per product line,
    the id of the cancellation repeating it (-1 for lines not repeated).
    """
    n_orders = len(orders["time"])
    cancelled = pick(rng, int((orders["customer"] >= 0).sum()), _CANCEL_SHARE)
    cancel_id = np.full(n_orders, -1)
    cancel_id[cancelled] = n_orders + np.arange(len(cancelled))
    first_line = np.arange(len(line_order)) == np.searchsorted(line_order, np.arange(n_orders))[line_order]
    repeat_in = np.where(first_line | (rng.random(len(line_order)) < 0.6), cancel_id[line_order], -1)
    later = np.minimum(orders["time"][cancelled] + rng.integers(300, 14 * _DAY, len(cancelled)), window * _DAY - 1)
    out = {key: np.concatenate([a, a[cancelled]]) for key, a in orders.items()}
    out["time"][n_orders:] = later
    out["cancel"] = np.arange(len(out["time"])) >= n_orders
    return out, repeat_in


def _extra_lines(rng: np.random.Generator, orders: dict, line_order: np.ndarray,
                 n_products: int) -> tuple[np.ndarray, ...]:
    """Return (order, product, quantity, price) of returns, POST and M lines; price NaN = catalog price.

    ~1% of product lines get a negative return line in their invoice; ~40% of foreign
    orders get postage; ~0.2% of orders get a manual adjustment.
    """
    normal = np.flatnonzero(~orders["cancel"])
    returned = line_order[pick(rng, len(line_order), _RETURN_SHARE)]
    foreign = normal[orders["country"][normal] != 0]
    foreign = foreign if len(foreign) else normal
    postage = foreign[pick(rng, len(foreign), _POSTAGE_SHARE)]
    manual = normal[pick(rng, len(normal), _MANUAL_SHARE)]
    sizes = (len(returned), len(postage), len(manual))
    order = np.concatenate([returned, postage, manual])
    fees = np.repeat([n_products, n_products + 1], sizes[1:])
    product = np.concatenate([rng.integers(0, n_products, sizes[0]), fees])
    qty = np.concatenate([-rng.integers(1, 4, sizes[0]), rng.integers(1, 4, sizes[1]), np.ones(sizes[2], np.int64)])
    price = np.concatenate([np.full(sizes[0], np.nan), rng.choice(_POSTAGE_PRICES, sizes[1]),
                            np.round(rng.lognormal(2.5, 1.0, sizes[2]), 2)])
    return order, product, qty, price


def _invoice_numbers(time: np.ndarray, cancel: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """Number invoices in time order; return (sort rank, InvoiceNo strings with 'C' for cancellations).

    All numbers have the same width, so string order equals number order and a
    "C" invoice sorts after the plain ones of the same second.
    """
    digits = 6
    while 5 * 10 ** (digits - 1) < len(time):
        digits += 1
    number = np.empty(len(time), dtype=np.int64)
    number[np.argsort(time, kind="stable")] = 5 * 10 ** (digits - 1) + np.arange(len(time))
    rank = np.empty(len(time), dtype=np.int64)
    rank[np.lexsort((number, cancel, time))] = np.arange(len(time))
    text = pc.cast(pa.array(number), pa.string())
    return rank, pc.if_else(pa.array(cancel), pc.binary_join_element_wise("C", text, ""), text)


def _table(orders: dict, rows: dict, catalog: tuple, invoice_no: pa.Array, ids: pa.Array, start_seconds: int,
           take: np.ndarray) -> pa.Table:
    """Build the order-line table from invoice arrays, row arrays and the row order ``take``."""
    codes, descriptions, category, _ = catalog
    inv, prod = rows["order"][take], rows["product"][take]
    customer = orders["customer"][inv]
    return pa.table({
        "InvoiceNo": invoice_no.take(pa.array(inv)),
        "StockCode": pa.array(codes).take(pa.array(prod)),
        "Description": pa.array(descriptions).take(pa.array(prod)),
        "Quantity": pa.array(rows["qty"][take]),
        "InvoiceDate": pa.array((orders["time"][inv] + start_seconds).astype("datetime64[s]")),
        "UnitPrice": pa.array(rows["price"][take]),
        "CustomerID": ids.take(pa.array(customer, mask=customer < 0)),
        "Country": pa.array(_COUNTRIES).take(pa.array(orders["country"][inv])),
        "Category": pa.array(_CATEGORIES + ("Other",)).take(pa.array(category[prod])),
        "Channel": pa.array(CHANNELS).take(pa.array(orders["channel"][inv])),
    })


def make_transactions(n_customers: int = 2000, *, seed: int = 0, start: str = "2023-01-01",
                      end: str = "2024-12-31") -> tuple[pa.Table, pd.DataFrame]:
    """Generate a messy retail transaction log with planted customer behaviour types.

    Parameters
    ----------
    n_customers : int
        Customers with an id (>= 10); rows average about 64.5 per customer (guest rows included).
    seed : int
        Seed of ``numpy.random.default_rng`` (>= 0); equal arguments give equal output.
    start, end : str
        First and last day of the window (at least 547 days apart); ``end`` is the snapshot.

    Returns
    -------
    order_lines : pyarrow.Table
        Columns InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice,
        CustomerID, Country, Category, Channel, sorted by InvoiceDate then InvoiceNo.
    truth : pandas.DataFrame
        Columns customer_id and planted_type, one row per customer, sorted by id.
    """
    n_customers = check_int("n_customers", n_customers, 10)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    first_day, last_day = check_day("start", start), check_day("end", end)
    window = int((last_day - first_day).astype(np.int64)) + 1
    if window < _MIN_WINDOW_DAYS:
        raise ParamsError(f"'end' must be at least {_MIN_WINDOW_DAYS - 1} days after 'start' "
                          f"(got start={start!r}, end={end!r})")
    catalog = _catalog(rng)
    n_products = len(catalog[0]) - 2
    types = shuffled_labels(rng, n_customers, np.array([b.share for b in _BEHAVIOURS[: len(PLANTED_TYPES)]]))
    orders = _orders(rng, types, window)
    line_order, product, qty = _order_lines(rng, orders["group"])
    orders, repeat_in = _cancel(rng, orders, line_order, window)
    kept = repeat_in >= 0
    extra = _extra_lines(rng, orders, line_order, n_products)
    rows = {"order": np.concatenate([line_order, repeat_in[kept], extra[0]]),
            "product": np.concatenate([product, product[kept], extra[1]]),
            "qty": np.concatenate([qty, -qty[kept], extra[2]]),
            "price": np.concatenate([np.full(len(qty) + kept.sum(), np.nan), extra[3]])}
    rows["price"] = np.where(np.isnan(rows["price"]), catalog[3][rows["product"]], rows["price"])
    rows["price"][pick(rng, len(rows["price"]), _ZERO_PRICE_SHARE)] = 0.0
    # sort by (time, invoice number) keeping line order, then repeat ~0.5% of rows verbatim
    rank, invoice_no = _invoice_numbers(orders["time"], orders["cancel"])
    row_order = np.argsort(rank[rows["order"]], kind="stable")
    repeats = np.ones(len(row_order), dtype=np.int64)
    repeats[pick(rng, len(row_order), _DUPLICATE_SHARE)] = 2
    ids = make_ids("C", n_customers, 5)
    start_seconds = int(first_day.astype("datetime64[s]").astype(np.int64))
    table = _table(orders, rows, catalog, invoice_no, ids, start_seconds, np.repeat(row_order, repeats))
    truth = pa.table({"customer_id": ids, "planted_type": pa.array(PLANTED_TYPES).take(pa.array(types))})
    return table, truth.to_pandas()


