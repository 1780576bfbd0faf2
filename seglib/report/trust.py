"""How far to trust the segments, in words: the verdict on stability and separation, how the number of
segments was chosen, and whether the data carry structure at all (read from ``clustering.json``)."""

from __future__ import annotations

from seglib.cluster.structure import StructureCheck, no_structure

#: Verdict thresholds: (stability, silhouette) at least these for "strong" and "moderate".
STRONG = (0.85, 0.35)
MODERATE = (0.70, 0.20)
def _below(value: float, bar: float) -> str:
    """'0.19, below 0.20', with as many decimals as it takes for the value not to read as the bar.

    >>> _below(0.186, 0.2), _below(0.1996, 0.2)
    ('0.19, below 0.20', '0.1996, below 0.20')
    """
    digits = next((d for d in (2, 3, 4, 6) if f"{value:.{d}f}" != f"{bar:.{d}f}"), 6)
    return f"{value:.{digits}f}, below {bar:.2f}"


def trust_verdict(stability: float | None, silhouette: float | None) -> tuple[str, str]:
    """Plain-words verdict on the chosen segmentation; the words name the measure that falls short, with its value."""
    stab = stability if stability is not None else 0.0
    sil = silhouette if silhouette is not None else 0.0
    if stab >= STRONG[0] and sil >= STRONG[1]:
        return "strong", "the segments are stable under resampling and clearly separated"
    level = "moderate" if stab >= MODERATE[0] and sil >= MODERATE[1] else "weak"
    bar = STRONG if level == "moderate" else MODERATE
    short = []
    if stab < bar[0]:
        short.append(f"refits on resampled customers agree only partly (stability {_below(stab, bar[0])})")
    if sil < bar[1]:
        short.append(f"the segments overlap (silhouette {_below(sil, bar[1])}): customers near a border "
                     f"could belong to either side")
    words = "; ".join(short)
    if level == "weak":
        words += "; treat the segments as a convenient summary, not as natural groups"
    return level, words



def structure_sentence(clustering: dict) -> str:
    """The structure check in words, with its numbers (no final full stop); empty for runs without one."""
    structure = clustering.get("structure") or {}
    return StructureCheck(**structure).sentence() if structure else ""


def selection_sentences(clustering: dict) -> list[str]:
    """How the number of segments was chosen and whether the data carry structure, in words."""
    out = []
    gap = clustering.get("gap")
    if gap and gap.get("sentence"):
        chosen = clustering.get("segments")
        if clustering.get("override"):
            then = "the analyst's choice (clustering.choose) set the segments"
        elif clustering.get("family") == "rfm":
            then = "no fitted candidate was feasible, so the rule-based RFM segments are used"
        elif gap.get("k") is None:
            then = "the combined scores decided"
        elif no_structure(clustering) or (chosen is not None and abs(chosen - gap["k"]) <= 1):
            then = "candidates within one of that number competed on the scores above"
        else:
            then = f"no feasible candidate came within one of that number, so the nearest, {chosen}, was used"
        out.append(f"Number of segments: {gap['sentence']}; {then}.")
    if clustering.get("structure"):
        words = structure_sentence(clustering)
        out.append(f"Structure: {words[:1].lower()}{words[1:]}.")
    return out
