"""How far to trust the segments, in words: the verdict on stability and separation, how the number of
segments was chosen, and whether the data carry structure at all (read from ``clustering.json``)."""

from __future__ import annotations

from seglib.cluster.structure import StructureCheck

#: Verdict thresholds: (stability, silhouette) at least these for "strong" and "moderate".
STRONG = (0.85, 0.35)
MODERATE = (0.70, 0.20)
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
        short.append(f"refits on resampled customers agree only partly (stability {stab:.2f}, below {bar[0]:.2f})")
    if sil < bar[1]:
        short.append(f"the segments overlap (silhouette {sil:.2f}, below {bar[1]:.2f}): customers near a border "
                     f"could belong to either side")
    words = "; ".join(short)
    if level == "weak":
        words += "; treat the segments as a convenient summary, not as natural groups"
    return level, words



def no_structure(clustering: dict) -> bool:
    """The structure check ran and found nothing: the run made no segments."""
    structure = clustering.get("structure") or {}
    return bool(structure.get("checked")) and not structure.get("structure", True)


def structure_sentence(clustering: dict) -> str:
    """The structure check in words, with its numbers (no final full stop); empty for runs without one."""
    structure = clustering.get("structure") or {}
    return StructureCheck(**structure).sentence() if structure else ""


def selection_sentences(clustering: dict) -> list[str]:
    """How the number of segments was chosen and whether the data carry structure, in words."""
    out = []
    gap = clustering.get("gap")
    if gap:
        row = next((r for r in gap["table"] if r["k"] == gap["k"]), None)
        chosen = clustering.get("segments")
        if row is not None:
            then = ("candidates within one of that number competed on the scores above" if no_structure(clustering)
                    or abs(chosen - gap["k"]) <= 1 else
                    f"no feasible candidate came within one of that number, so the nearest, {chosen}, was used")
            out.append(f"Number of segments: the gap statistic points to {gap['k']} (gap {row['gap']:.2f} ± "
                       f"{row['se']:.2f} against uniform reference data, on {gap['rows']:,} customers); {then}.")
    if clustering.get("structure"):
        out.append(f"Structure: {structure_sentence(clustering)}.")
    return out
