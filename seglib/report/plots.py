"""Figures for the notebooks and the report. Each function returns a Figure; no side effects.

Figures are :class:`~seglib.report.figure.SegFigure` (not pyplot), so a notebook shows
each exactly once, as an image with an alt text that says what the chart shows and its
main finding, at a modest dpi so the stakeholder report stays small. Every segment's
colour comes from :func:`seglib.report.palette.segment_color` (by id), so a segment has
the same colour on every chart and on its card. Long labels are wrapped, axis titles say
the scale ("orders (log scale)") and money carries the params' currency
(``report.currency``). A chart can never fail a run: a figure the data cannot give (no
numeric column, one segment, ...) is replaced by a short note saying why.
"""

from __future__ import annotations

import matplotlib
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.patheffects import withStroke
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from seglib.features import correlations, log_view
from seglib.profile import segment_name
from seglib.report.figure import DPI, SegFigure, drawn_once, figure, never_fails, note_figure, number, wrap
from seglib.report.palette import SEGMENT_COLORS, segment_color, series_color

__all__ = ["DPI", "MAP_SAMPLE", "MAX_GRID", "SegFigure", "axis_title", "correlation_heatmap", "customer_map",
           "feature_distributions", "forecast_check", "lift_heatmap", "note_figure", "rfm_distributions",
           "scores_by_k", "size_and_value"]

MAP_SAMPLE = 3000
#: Grids (correlations, segment x feature) show at most this many features: their size grows with the square.
MAX_GRID = 25
#: What the transaction features measure, as an axis title says it.
MEASURES = {"recency_days": "days since last order", "frequency": "orders", "monetary": "revenue per customer",
            "avg_order_value": "average order value", "tenure_days": "days since first order"}
MONEY = ("monetary", "avg_order_value")
#: Horizontal box plots: matplotlib 3.10 named the argument ``orientation`` and deprecated ``vert``.
HORIZONTAL = {"orientation": "horizontal"} if tuple(map(int, matplotlib.__version__.split(".")[:2])) >= (3, 10) \
    else {"vert": False}


def axis_title(column: str, *, log: bool | str = False, money: str = "", label: str | None = None) -> str:
    """An axis title that says what is measured, in what currency and on what scale.

    >>> axis_title("monetary", log=True, money="£")
    'revenue per customer (£, log scale)'
    >>> axis_title("frequency", log=True), axis_title("Annual Income (k$)")
    ('orders (log scale)', 'Annual Income (k$)')
    """
    notes = [money] if money and column in MONEY else []
    if log:
        notes.append("log scale beyond ±1" if log == "symlog" else "log scale")
    return MEASURES.get(column, label or column) + (f" ({', '.join(notes)})" if notes else "")


def feature_label(features, column: str) -> str:
    """A feature's label from the feature dictionary, with its unit ("annual income (k$)"); its name without one."""
    d = getattr(features, "dictionary", None)
    if d is None or "label" not in getattr(d, "columns", ()) or column not in set(d["name"]):
        return column
    row = d.set_index("name").loc[column]
    unit = str(row.get("unit") or "")
    shown = unit if unit and unit not in ("as given", "category", "code", "currency", "label") and not \
        unit.startswith(("share", "score")) else ""
    return f"{row['label']} ({shown})" if shown else str(row["label"])


def _row_height(labels) -> float:
    """Inches per row of a chart whose rows are labelled with these (wrapped) labels: room for every line."""
    lines = max((str(label).count("\n") + 1 for label in labels), default=1)
    return max(0.5, 0.17 * lines + 0.15)


def _in_id_order(present) -> list[int]:
    """The segment ids among ``present``, in id order, unassigned (-1) last.

    >>> _in_id_order([2, -1, 0, 2])
    [0, 2, -1]
    """
    return sorted({int(k) for k in present}, key=lambda k: (k < 0, k))


@never_fails
def feature_distributions(features) -> SegFigure:
    """Histograms of the clustering features as the clustering sees them (log1p where set)."""
    view = log_view(features)
    if view.empty or not len(view.columns):
        return note_figure("No numeric clustering feature: the clustering used categorical columns only "
                           "(see the attribute mix).")
    cols = list(view.columns)[:12]
    ncol = min(4, max(len(cols), 1))
    nrow = int(np.ceil(len(cols) / ncol)) or 1
    fig = figure(3.2 * ncol, 2.5 * nrow)
    axes = np.atleast_1d(fig.subplots(nrow, ncol)).ravel()
    for ax, col in zip(axes, cols):
        ax.hist(view[col].dropna(), bins=40, color=series_color("single"), alpha=0.8, edgecolor="white", linewidth=0.4)
        logged = col in features.log_columns
        ax.set_title(wrap(f"{col}{' (log scale: log1p)' if logged else ''}", 32), fontsize=9)
        ax.set_xlabel("")
        ax.set_ylabel("customers")
    for ax in axes[len(cols):]:
        ax.set_visible(False)
    skew = view[cols].skew().abs().dropna()
    logged = [c for c in cols if c in features.log_columns]
    fig.alt = (f"Histograms of {len(cols)} clustering features as the clustering sees them"
               + (f" ({', '.join(logged)} on a log1p scale)" if logged else "") + "."
               + (f" The most skewed is {skew.idxmax()} (skewness {skew.max():.1f})." if len(skew) else ""))
    return fig


@never_fails
def correlation_heatmap(features) -> SegFigure:
    """Spearman correlations of the numeric clustering features; past MAX_GRID features, the most correlated."""
    corr = correlations(features)
    if len(corr) < 2:
        return note_figure("Correlations need two or more numeric clustering features; this run has "
                           f"{len(corr)}.")
    total = len(corr)
    if total > MAX_GRID:  # a figure grows with the square of the features: keep the ones that matter
        strongest = (corr.abs() - np.eye(total)).max().sort_values(ascending=False, kind="stable")
        keep = [c for c in corr.columns if c in set(strongest.index[:MAX_GRID])]
        corr = corr.loc[keep, keep]
    n = len(corr)
    fig = figure(1.6 + 0.85 * n, 1.2 + 0.55 * n)
    ax = fig.subplots()
    labels = [wrap(c, 10) for c in corr.columns]
    sns.heatmap(corr, annot=n <= 15, fmt=".2f", cmap="vlag", vmin=-1, vmax=1, ax=ax, cbar=n > 15,
                xticklabels=labels, yticklabels=labels)
    ax.tick_params(axis="x", rotation=90 if n > 8 else 0)
    ax.tick_params(axis="y", rotation=0)
    if total > n:
        ax.set_title(f"the {n} of {total} features most correlated with another", fontsize=10)
    pairs = corr.where(~np.tri(n, dtype=bool)).stack()
    top = pairs.abs().idxmax()
    fig.alt = (f"Heatmap of the Spearman correlations between {n} numeric clustering features. The strongest is "
               f"between {top[0]} and {top[1]} ({pairs[top]:+.2f}).")
    return fig


SCORES = ("silhouette", "stability", "davies_bouldin", "calinski_harabasz")


@never_fails
def scores_by_k(table: pd.DataFrame) -> SegFigure:
    """Silhouette, stability, Davies–Bouldin and Calinski–Harabasz against k, one line per family."""
    return _scores_by_k(table[[c for c in ("family", "k", "error", *SCORES) if c in table]])


@drawn_once
def _scores_by_k(table: pd.DataFrame) -> SegFigure:
    """:func:`scores_by_k` from the columns it draws (the clustering stage's table in memory and the report's
    read back from comparison.csv then give one key)."""
    data = table[table["error"].isna() | (table["error"].astype(str) == "")].copy()
    data = data[data["family"] != "rfm"]
    metrics = [m for m in SCORES if m in data]
    families = sorted(data["family"].unique())
    colors = {f: SEGMENT_COLORS[i % len(SEGMENT_COLORS)] for i, f in enumerate(families)}
    fig = figure(10, 6.4)
    axes = fig.subplots(2, 2).ravel()
    found = []
    ks = data["k"].dropna()
    # Stability is measured only for the candidates that could be chosen (seglib.cluster.compare).
    partial = "stability" in data and data["stability"].isna().any() and data["stability"].notna().any()
    for ax, metric in zip(axes, metrics):
        if len(ks):  # every panel on the same whole-number k axis, also where a score was measured for a few k only
            ax.set_xlim(ks.min() - 0.4, ks.max() + 0.4)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        best = data.groupby(["family", "k"], as_index=False)[metric].agg("max" if metric != "davies_bouldin" else "min")
        for family, line in best.groupby("family"):  # one value per k: a plain line (no estimator to run)
            ax.plot(line["k"], line[metric], marker="o", markersize=4, label=family, color=colors[family])
        better = "lower is better" if metric == "davies_bouldin" else "higher is better"
        if metric == "stability" and partial:
            better += ")\n(measured only where it could change the choice"
        ax.set_title(f"{metric.replace('_', ' ')} ({better})", fontsize=10)
        ax.set_xlabel("k (number of segments)")
        ax.set_ylabel(metric.replace("_", " "))
        ax.legend(fontsize=7, title="family", title_fontsize=7)
        top = best.dropna(subset=[metric])
        if metric in ("silhouette", "stability") and len(top):
            row = top.loc[top[metric].idxmax()]
            found.append(f"the highest {metric} is {row['family']} at k={int(row['k'])} ({row[metric]:.2f})")
    for ax in axes[len(metrics):]:
        ax.set_visible(False)
    fig.alt = (f"Line charts of {len(metrics)} clustering scores against the number of segments k, one line per "
               f"family ({', '.join(families)})." + (f" Of these, {' and '.join(found)}." if found else "")
               + (" Stability was measured only for the candidates that could be chosen." if partial else ""))
    return fig


@never_fails
def lift_heatmap(zscores: pd.DataFrame) -> SegFigure:
    """Segment × feature: standardised difference from the base mean (past MAX_GRID features, the largest)."""
    total = zscores.shape[1]
    if zscores.shape[0] == 1:  # no segments: one group, the average customer itself
        return note_figure("One group, no segments: there is nothing to compare with the average customer.")
    if zscores.empty or total == 0:
        return note_figure("No numeric clustering feature: the segments differ by their categories "
                           "(see each segment's traits).")
    if total > MAX_GRID:
        largest = zscores.abs().max().sort_values(ascending=False, kind="stable").index[:MAX_GRID]
        zscores = zscores[[c for c in zscores.columns if c in set(largest)]]
    z = zscores.astype(float)
    rows = [wrap(s) for s in z.index]
    fig = figure(2.6 + 0.95 * z.shape[1], 1.4 + _row_height(rows) * z.shape[0])
    ax = fig.subplots()
    if total > z.shape[1]:
        ax.set_title(f"the {z.shape[1]} of {total} features that differ most between segments", fontsize=10)
    sns.heatmap(z, annot=True, fmt=".1f", cmap="RdBu_r", center=0, vmin=-2, vmax=2, ax=ax,
                xticklabels=[wrap(c, 9) for c in z.columns], yticklabels=rows,
                cbar_kws={"label": "standard deviations\nfrom the base mean"})
    ax.set_ylabel("")
    ax.set_xlabel("")
    ax.tick_params(axis="x", rotation=90 if z.shape[1] > 10 else 0)
    ax.tick_params(axis="y", rotation=0)
    cells = z.stack().dropna()
    top = cells.abs().sort_values(ascending=False).index[:3]
    fig.alt = (f"Heatmap of how each of {z.shape[0]} segments differs from the average customer on {z.shape[1]} "
               f"features, in standard deviations from the base mean (red above, blue below). The largest "
               f"differences: " + "; ".join(f"{s} on {f} ({cells[(s, f)]:+.1f})" for s, f in top) + ".")
    return fig


@never_fails
def size_and_value(kpis: pd.DataFrame, names: dict) -> SegFigure:
    """Share of customers beside share of revenue (or of the main value measure), one bar per segment."""
    body = kpis[kpis["segment"] != "All customers"]
    ids = {segment_name(names, k): k for k in names}
    body = body.assign(_id=[int(ids.get(s, -1)) for s in body["segment"]])
    body = body.set_index("_id").loc[_in_id_order(body["_id"])]
    value_word = "revenue" if "orders_per_customer" in body else "value"
    measures = {"share": "share of customers"}
    if "revenue_share" in body:
        measures["revenue_share"] = f"share of {value_word}"
    rows = [wrap(s) for s in body["segment"]]
    fig = figure(4.0 + 3.0 * len(measures), 0.9 + _row_height(rows) * len(body))
    axes = np.atleast_1d(fig.subplots(1, len(measures), sharey=True))
    y = np.arange(len(body))
    colors = [segment_color(k) for k in body.index]
    for ax, (col, title) in zip(axes, measures.items()):
        values = body[col].astype(float).to_numpy()
        bars = ax.barh(y, values, color=colors, height=0.7)
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in values], padding=3, fontsize=8)
        ax.set_xlim(0, max(np.nanmax(values) * 1.18, 0.05))
        ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_xlabel(title)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_yticks(y, rows)
    axes[0].invert_yaxis()
    words = [f"{r.segment}: {r.share:.0%} of customers" + (f", {r.revenue_share:.0%} of {value_word}"
                                                             if "revenue_share" in body else "")
             for r in body.sort_values("revenue_share" if "revenue_share" in body else "share",
                                       ascending=False).itertuples()]
    fig.alt = (f"Bar charts, one bar per segment, of the {' and the '.join(measures.values())}. "
               + "; ".join(words) + ".")
    return fig


def _map_finding(xy: np.ndarray, seg: np.ndarray, names: dict) -> str:
    """Which two segments overlap most on the map and which stands furthest apart, in words."""
    ids = [k for k in _in_id_order(seg) if k >= 0 and (seg == k).sum() >= 2]
    if len(ids) < 2:
        return ""
    centre = {k: xy[seg == k].mean(axis=0) for k in ids}
    spread = {k: np.linalg.norm(xy[seg == k] - centre[k], axis=1).mean() or 1e-9 for k in ids}
    gap = {(a, b): np.linalg.norm(centre[a] - centre[b]) / (spread[a] + spread[b])
           for i, a in enumerate(ids) for b in ids[i + 1:]}
    a, b = min(gap, key=gap.get)
    words = f" {segment_name(names, a)} and {segment_name(names, b)} overlap most"
    if len(ids) > 2:
        apart = max(ids, key=lambda k: min(v for pair, v in gap.items() if k in pair))
        words += f"; {segment_name(names, apart)} stands furthest from the others"
    return words + "."


@never_fails
def customer_map(features, labels: pd.Series, names: dict, *, seed: int = 0) -> SegFigure:
    """Customers on the first two principal components of the clustering features."""
    from sklearn.decomposition import PCA
    from sklearn.preprocessing import StandardScaler

    view = log_view(features)
    view = view.fillna(view.median())
    if len(view) > MAP_SAMPLE:
        view = view.sample(MAP_SAMPLE, random_state=seed)
    if features.used_categorical:  # category values as 0/1 columns, so mixed and categorical tables have a map
        categories = features.table.loc[view.index, features.used_categorical]
        view = pd.concat([view, pd.get_dummies(categories.astype("object").fillna("(missing)"), dtype="float64")],
                         axis=1)
    if view.shape[1] < 2:
        return note_figure("A map needs two or more clustering features; this run has one, so the segments are "
                           "shown by the box plots below.")
    pca = PCA(n_components=2, random_state=seed)
    xy = pca.fit_transform(StandardScaler().fit_transform(view))
    seg = labels.loc[view.index].astype(int).to_numpy()
    fig = figure(8.5, 5.5)
    ax = fig.subplots()
    for k in _in_id_order(seg):
        mask = seg == k
        ax.scatter(xy[mask, 0], xy[mask, 1], s=10, alpha=0.7, color=segment_color(k), linewidths=0,
                   label=wrap(segment_name(names, k)))
    share = pca.explained_variance_ratio_
    ax.set_xlabel(f"component 1 ({share[0]:.0%} of the variation)")
    ax.set_ylabel(f"component 2 ({share[1]:.0%} of the variation)")
    sampled = len(features.table) > MAP_SAMPLE
    shown = f"sample of {MAP_SAMPLE:,} customers (seed {seed})" if sampled else "all customers"
    ax.set_title(shown, fontsize=9)
    ax.legend(title="segment", fontsize=8, title_fontsize=8, markerscale=2, loc="upper left",
              bbox_to_anchor=(1.01, 1.0), frameon=False)
    who = f"a fixed-seed sample of {len(view):,} customers" if sampled else f"all {len(view):,} customers"
    fig.alt = (f"Scatter plot of {who} on the first two principal components of the clustering features, coloured "
               f"by segment." + _map_finding(xy, seg, names))
    return fig


def _log_scale(ax, values: pd.Series, *, skewed: bool) -> str:
    """A log x axis for a skewed measure (linear near zero when it has zero or negative values): its kind or ''."""
    values = values.dropna()
    if not skewed or values.empty or values.max() <= 0:
        return ""
    scale = "log" if (values > 0).all() else "symlog"  # net revenue can be 0 or negative: linear within ±1
    ax.set_xscale(scale, **({"linthresh": 1.0} if scale == "symlog" else {}))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 1 or v == 0 else f"{v:g}"))
    return scale


@never_fails
def rfm_distributions(features, labels: pd.Series, names: dict, *, money: str = "",
                      columns: list[str] | None = None) -> SegFigure:
    """Box plots per segment of ``columns`` (the report passes the measures that differ most between segments;
    by default recency, frequency and monetary value, or the first numeric attributes)."""
    table = features.table
    cols = [c for c in (columns or []) if c in table] or [
        c for c in ("recency_days", "frequency", "monetary") if c in table] or features.used_numeric[:3]
    if not cols:
        return note_figure("No numeric measure to show per segment: the clustering used categorical columns only.")
    order = _in_id_order(labels.unique())
    rows = [wrap(segment_name(names, k)) for k in order]
    fig = figure(1.6 + 3.2 * len(cols), 1.3 + _row_height(rows) * len(order))
    axes = np.atleast_1d(fig.subplots(1, len(cols), sharey=True))
    findings = []
    for ax, col in zip(axes, cols):
        groups = [table.loc[labels.index[labels == k], col].dropna().to_numpy() for k in order]
        boxes = ax.boxplot(groups, **HORIZONTAL, patch_artist=True, showfliers=False, widths=0.6,
                           medianprops={"color": "white", "linewidth": 2,
                                        "path_effects": [withStroke(linewidth=3.5, foreground="#1d2733")]})
        for box, k in zip(boxes["boxes"], order):
            box.set_facecolor(segment_color(k))
            box.set_edgecolor("#1d2733")
        skewed = col in ("frequency", "monetary") or (col in features.log_columns and col not in MEASURES)
        log = _log_scale(ax, table[col], skewed=skewed)
        title = axis_title(col, log=log, money=money, label=feature_label(features, col))
        ax.set_xlabel(wrap(title, 36))
        medians = pd.Series([np.median(g) if len(g) else np.nan for g in groups], index=order).dropna()
        if len(medians) > 1:
            hi, lo = medians.idxmax(), medians.idxmin()
            findings.append(f"median {axis_title(col, money=money, label=feature_label(features, col))} is highest in {segment_name(names, hi)} "
                            f"({number(medians[hi])}) and lowest in {segment_name(names, lo)} ({number(medians[lo])})")
    axes[0].set_yticks(range(1, len(order) + 1), rows)
    axes[0].invert_yaxis()
    fig.suptitle("Boxes: the middle half of each segment's customers; white line: the median; whiskers: up to 1.5 "
                 "box lengths; customers beyond the whiskers not drawn", fontsize=8)
    fig.alt = (f"Box plots of {', '.join(axis_title(c) for c in cols)} for each of {len(order)} segments."
               + (" The " + "; the ".join(findings) + "." if findings else ""))
    return fig


@never_fails
@drawn_once
def forecast_check(clv: dict | None) -> SegFigure:
    """Cumulative purchase days in the held-back weeks (or months): what happened, the model and the naive baseline."""
    if not clv or not clv.get("applies"):
        reason = (clv or {}).get("reason", "the run has no value forecast")
        return note_figure(f"No holdout chart: {reason}.")
    curve = pd.DataFrame(clv["holdout"]["curve"])
    when = pd.Timestamp("1970-01-01") + pd.to_timedelta(curve["day"], unit="D")
    fig = figure(8, 3.4)
    ax = fig.subplots()
    ax.plot(when, curve["actual"], color=series_color("actual"), linewidth=2.2, label="what happened")
    ax.plot(when, curve["model"], color=series_color("model"), linewidth=1.8, label="model forecast")
    ax.plot(when, curve["naive"], color=series_color("baseline"), linewidth=1.4, linestyle="--",
            label="naive baseline")
    ax.set_ylabel("purchase days since the cut-off\n(cumulative)")
    days = clv["holdout"]["days"]
    ax.set_title(f"The last {days} days, held back from the fit", fontsize=10)
    ax.legend(frameon=False, fontsize=9)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    end = curve.iloc[-1]
    verdict = "closer" if abs(end["model"] - end["actual"]) < abs(end["naive"] - end["actual"]) else "no closer"
    fig.alt = (f"Line chart of cumulative purchase days over the last {days} days, held back from the model's fit. "
               f"By the end, {number(end['actual'])} purchase days happened; the model forecast "
               f"{number(end['model'])} and the naive baseline {number(end['naive'])}, so the model was {verdict} "
               f"than the baseline.")
    return fig
