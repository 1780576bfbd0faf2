"""Figures for the notebooks and the report. Each function returns a Figure; no side effects.

Figures are built with :class:`matplotlib.figure.Figure` (not pyplot), so a notebook
shows each exactly once, and at a modest dpi so the stakeholder report stays small. A
chart can never fail a run: a figure the data cannot give (no numeric column, one
segment, ...) is replaced by a short note saying why (:func:`_never_fails`).
"""

from __future__ import annotations

import functools
import io

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from seglib.features import correlations, log_view
from seglib.profile import segment_names

DPI = 80
MAP_SAMPLE = 3000
#: Grids (correlations, segment x feature) show at most this many features: their size grows with the square.
MAX_GRID = 25
PALETTE = "tab10"


class SegFigure(Figure):
    """A Figure that shows itself as PNG in any notebook, with or without pyplot's inline backend."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=self.dpi)
        return buffer.getvalue()


def _figure(width: float, height: float) -> Figure:
    return SegFigure(figsize=(width, height), dpi=DPI, layout="constrained")


def note_figure(text: str) -> Figure:
    """A small figure that says, in words, why a chart is not shown."""
    fig = _figure(8, 0.7)
    fig.text(0.01, 0.5, text, fontsize=10, va="center", wrap=True)
    return fig


def _never_fails(draw):
    """Wrap a chart: any error while drawing it gives a note figure naming the chart and the reason."""
    @functools.wraps(draw)
    def safe(*args, **kwargs):
        try:
            return draw(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - a chart must never stop a run
            reason = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            return note_figure(f"This chart ({draw.__name__.replace('_', ' ')}) could not be drawn: {reason}")
    return safe


def _segment_names(labels: pd.Series, names: dict) -> pd.Series:
    return pd.Series(segment_names(names, labels), index=labels.index)


@_never_fails
def feature_distributions(features) -> Figure:
    """Histograms of the clustering features as the clustering sees them (log1p where set)."""

    view = log_view(features)
    if view.empty or not len(view.columns):
        return note_figure("No numeric clustering feature: the clustering used categorical columns only "
                           "(see the attribute mix).")
    cols = list(view.columns)[:12]
    ncol = min(4, max(len(cols), 1))
    nrow = int(np.ceil(len(cols) / ncol)) or 1
    fig = _figure(3.2 * ncol, 2.4 * nrow)
    axes = np.atleast_1d(fig.subplots(nrow, ncol)).ravel()
    for ax, col in zip(axes, cols):
        sns.histplot(view[col].dropna(), ax=ax, bins=40, color="#4c72b0")
        ax.set_title(f"{col}{' (log1p)' if col in features.log_columns else ''}", fontsize=9)
        ax.set_xlabel("")
    for ax in axes[len(cols):]:
        ax.set_visible(False)
    return fig


@_never_fails
def correlation_heatmap(features) -> Figure:
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
    fig = _figure(1.0 + 0.6 * n, 0.8 + 0.5 * n)
    ax = fig.subplots()
    sns.heatmap(corr, annot=n <= 15, fmt=".2f", cmap="vlag", vmin=-1, vmax=1, ax=ax, cbar=n > 15)
    if total > n:
        ax.set_title(f"the {n} of {total} features most correlated with another", fontsize=10)
    return fig


@_never_fails
def scores_by_k(table: pd.DataFrame) -> Figure:
    """Silhouette, stability, Davies–Bouldin and Calinski–Harabasz against k, one line per family."""
    data = table[table["error"].isna() | (table["error"].astype(str) == "")].copy()
    data = data[data["family"] != "rfm"]
    metrics = [m for m in ("silhouette", "stability", "davies_bouldin", "calinski_harabasz") if m in data]
    fig = _figure(10, 6)
    axes = fig.subplots(2, 2).ravel()
    for ax, metric in zip(axes, metrics):
        best = data.groupby(["family", "k"], as_index=False)[metric].agg("max" if metric != "davies_bouldin" else "min")
        sns.lineplot(data=best, x="k", y=metric, hue="family", marker="o", ax=ax, palette=PALETTE)
        better = "lower is better" if metric == "davies_bouldin" else "higher is better"
        ax.set_title(f"{metric.replace('_', ' ')} ({better})", fontsize=10)
        ax.legend(fontsize=7)
    return fig


@_never_fails
def lift_heatmap(zscores: pd.DataFrame) -> Figure:
    """Segment × feature: standardised difference from the base mean (past MAX_GRID features, the largest)."""
    total = zscores.shape[1]
    if zscores.empty or total == 0:
        return note_figure("No numeric clustering feature: the segments differ by their categories "
                           "(see each segment's traits).")
    if total > MAX_GRID:
        largest = zscores.abs().max().sort_values(ascending=False, kind="stable").index[:MAX_GRID]
        zscores = zscores[[c for c in zscores.columns if c in set(largest)]]
    fig = _figure(1.8 + 0.75 * zscores.shape[1], 1.2 + 0.5 * zscores.shape[0])
    ax = fig.subplots()
    if total > zscores.shape[1]:
        ax.set_title(f"the {zscores.shape[1]} of {total} features that differ most between segments", fontsize=10)
    sns.heatmap(zscores.astype(float), annot=True, fmt=".1f", cmap="RdBu_r", center=0, vmin=-2, vmax=2, ax=ax,
                cbar_kws={"label": "std. deviations from the base mean"})
    ax.set_ylabel("")
    ax.tick_params(axis="x", rotation=40)
    return fig


@_never_fails
def size_and_value(kpis: pd.DataFrame) -> Figure:
    """Share of customers beside share of revenue (or of the main value measure) per segment."""
    body = kpis[kpis["segment"] != "All customers"]
    columns = {"share": "share of customers"}
    if "revenue_share" in body:
        columns["revenue_share"] = "share of revenue" if "orders_per_customer" in body else "share of value"
    long = body.melt(id_vars="segment", value_vars=list(columns), var_name="measure", value_name="value")
    long["measure"] = long["measure"].map(columns)
    fig = _figure(9, 1.0 + 0.45 * len(body))
    ax = fig.subplots()
    sns.barplot(data=long, y="segment", x="value", hue="measure", ax=ax, palette=["#8da0cb", "#fc8d62"][:len(columns)])
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_xlabel("")
    ax.set_ylabel("")
    return fig


@_never_fails
def customer_map(features, labels: pd.Series, names: dict, *, seed: int = 0) -> Figure:
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
    xy = PCA(n_components=2, random_state=seed).fit_transform(StandardScaler().fit_transform(view))
    seg = _segment_names(labels.loc[view.index], names)
    fig = _figure(8, 5.5)
    ax = fig.subplots()
    sns.scatterplot(x=xy[:, 0], y=xy[:, 1], hue=seg.values, s=10, alpha=0.7, ax=ax, palette=PALETTE, linewidth=0)
    ax.set_xlabel("component 1")
    ax.set_ylabel("component 2")
    shown = f"sample of {MAP_SAMPLE:,} customers (seed {seed})" if len(features.table) > MAP_SAMPLE else "all customers"
    ax.set_title(shown, fontsize=9)
    ax.legend(fontsize=8, markerscale=2)
    return fig


@_never_fails
def rfm_distributions(features, labels: pd.Series, names: dict) -> Figure:
    """Box plots per segment of recency, frequency and monetary value (or the main numeric attributes)."""
    table = features.table
    cols = [c for c in ("recency_days", "frequency", "monetary") if c in table] or features.used_numeric[:3]
    if not cols:
        return note_figure("No numeric measure to show per segment: the clustering used categorical columns only.")
    seg = _segment_names(labels, names)
    fig = _figure(4 * len(cols), 0.9 + 0.45 * seg.nunique())
    axes = np.atleast_1d(fig.subplots(1, len(cols)))
    for ax, col in zip(axes, cols):
        sns.boxplot(x=table[col], y=seg, ax=ax, showfliers=False, color="#a6cee3")
        if col in ("frequency", "monetary") and (table[col] > 0).all():
            ax.set_xscale("log")
        ax.set_title(col, fontsize=10)
        ax.set_ylabel("")
        ax.set_xlabel("")
    return fig


@_never_fails
def forecast_check(clv: dict | None) -> Figure:
    """Cumulative purchase days in the held-back weeks (or months): what happened, the model and the naive baseline."""
    if not clv or not clv.get("applies"):
        reason = (clv or {}).get("reason", "the run has no value forecast")
        return note_figure(f"No holdout chart: {reason}.")
    curve = pd.DataFrame(clv["holdout"]["curve"])
    when = pd.Timestamp("1970-01-01") + pd.to_timedelta(curve["day"], unit="D")
    fig = _figure(8, 3.2)
    ax = fig.subplots()
    ax.plot(when, curve["actual"], color="black", linewidth=2.2, label="what happened")
    ax.plot(when, curve["model"], color="#1f77b4", linewidth=1.8, label="model forecast")
    ax.plot(when, curve["naive"], color="#7f7f7f", linewidth=1.4, linestyle="--", label="naive baseline")
    ax.set_ylabel("purchase days since the cut-off\n(cumulative)")
    ax.set_title(f"The last {clv['holdout']['days']} days, held back from the fit", fontsize=10)
    ax.legend(frameon=False, fontsize=9)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return fig
