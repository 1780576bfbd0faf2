"""The RFM baseline: tie-aware quintiles by hand, and the saved rules reproducing their own labels."""

import numpy as np
import pandas as pd

from seglib.cluster import SegmentModel
from seglib.features.rfm import RfmScorer, rfm_scores


def test_equal_values_get_equal_scores_by_hand():
    f = pd.DataFrame({"recency_days": [5, 5, 5, 10, 20, 30, 40, 50, 60, 70],
                      "frequency": [1, 1, 1, 2, 3, 4, 5, 6, 7, 8],
                      "monetary": [1.0, 1, 1, 2, 3, 4, 5, 6, 7, 8]})
    scores = rfm_scores(f)
    # Frequency cuts at the 20/40/60/80% quantiles: 1, 2.6, 4.4, 6.2; bin j holds (cut j-1, cut j].
    assert scores["rfm_f"].tolist() == [1, 1, 1, 2, 3, 3, 4, 4, 5, 5]
    assert scores["rfm_m"].tolist() == [1, 1, 1, 2, 3, 3, 4, 4, 5, 5]
    # Recency counts down: the three most recent (tied) customers all score 5.
    assert scores["rfm_r"].tolist() == [5, 5, 5, 4, 3, 3, 2, 2, 1, 1]
    # The order of the rows changes nothing (the old rank-based scores broke ties by row order).
    shuffled = rfm_scores(f.iloc[::-1])
    pd.testing.assert_frame_equal(shuffled.sort_index(), scores.sort_index())


def test_many_one_order_customers_share_one_f_score():
    rng = np.random.default_rng(0)
    f = pd.DataFrame({"recency_days": rng.integers(0, 400, 3000), "frequency": np.where(
        rng.random(3000) < 0.35, 1, rng.integers(2, 40, 3000)), "monetary": rng.lognormal(5, 1, 3000)})
    scores = rfm_scores(f)
    assert scores.loc[f["frequency"] == 1, "rfm_f"].nunique() == 1
    assert scores.groupby(f["frequency"])["rfm_f"].nunique().max() == 1


def test_the_saved_rfm_rules_reproduce_their_labels_on_new_rows():
    rng = np.random.default_rng(1)
    f = pd.DataFrame({"recency_days": rng.integers(0, 50, 800), "frequency": rng.integers(1, 6, 800),
                      "monetary": rng.integers(1, 30, 800).astype(float)},
                     index=[f"c{i}" for i in range(800)])
    scores = rfm_scores(f)
    model = SegmentModel("rfm", numeric=["recency_days", "frequency", "monetary"]).fit(f, y=scores["rfm_segment"])
    model.rfm_scorer_ = scores.attrs["scorer"]
    predicted = model.predict(f)
    assert [model.segment_names_[k] for k in predicted] == scores["rfm_segment"].tolist()
    # A new export is scored against the training cut points, customer by customer, in any order.
    part = f.sample(100, random_state=2)
    assert (model.predict(part) == pd.Series(predicted, index=f.index).loc[part.index].to_numpy()).all()
    assert RfmScorer(**scores.attrs["scorer"]).transform(part)["rfm_segment"].tolist() == \
        scores.loc[part.index, "rfm_segment"].tolist()
