"""The DTI's indicators: one place for each indicator's id, labels and kind.

Ids are the short English names used in every file the tool writes. Labels are
the ministry's (Vietnamese) and an English translation; ``aliases`` lists the
column headings seen in real tables, matched after :func:`names.name_key` folding.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mergetool.core.names import name_key


@dataclass(frozen=True)
class Indicator:
    id: str
    label_vi: str
    label_en: str
    kind: str  # "index" (the overall DTI), "pillar" or "indicator"
    aliases: tuple[str, ...] = ()


INDICATORS: tuple[Indicator, ...] = (
    Indicator("dti", "Chuyển đổi số cấp tỉnh (PDTI)", "Provincial DTI", "index",
              ("CHUYỂN ĐỔI SỐ CẤP TỈNH (PDTI)", "Chuyển đổi số cấp tỉnh", "Chỉ số chuyển đổi số cấp tỉnh",
               "Chỉ số chuyển đổi số", "PDTI", "DTI", "Chỉ số DTI", "Chỉ số PDTI", "Điểm", "value")),
    Indicator("pillar_gov", "Chính quyền số", "Digital government", "pillar", ("CQS",)),
    Indicator("pillar_econ", "Kinh tế số", "Digital economy", "pillar", ("KTS",)),
    Indicator("pillar_society", "Xã hội số", "Digital society", "pillar", ("XHS",)),
    Indicator("awareness", "Nhận thức số", "Digital awareness", "indicator"),
    Indicator("institutions", "Thể chế số", "Digital institutions", "indicator"),
    Indicator("infrastructure", "Hạ tầng số", "Digital infrastructure", "indicator"),
    Indicator("human_resources", "Nhân lực số", "Digital human resources", "indicator"),
    Indicator("cybersecurity", "An toàn thông tin mạng", "Cybersecurity", "indicator"),
    Indicator("gov_activity", "Hoạt động chính quyền số", "Digital government activity",
              "indicator"),
    Indicator("econ_activity", "Hoạt động kinh tế số", "Digital economy activity", "indicator"),
    Indicator("society_activity", "Hoạt động xã hội số", "Digital society activity", "indicator"),
)

BY_ID: dict[str, Indicator] = {i.id: i for i in INDICATORS}
INDICATOR_IDS: tuple[str, ...] = tuple(BY_ID)


def _keys(ind: Indicator) -> set[str]:
    labels = (ind.id, ind.label_vi, ind.label_en, f"Chỉ số {ind.label_vi}", *ind.aliases)
    return {name_key(x) for x in labels} | {name_key(x.replace("_", " ")) for x in labels}


_BY_KEY: dict[str, str] = {k: ind.id for ind in INDICATORS for k in _keys(ind)}


_ABBREVIATION = re.compile(r"\s*\((p?dti|cqs|kts|xhs)\)\s*$", re.IGNORECASE)


def indicator_id(heading: str) -> str | None:
    """The indicator id a column heading or long-format label denotes, or None.

    A trailing abbreviation in parentheses is optional: ``CHỈ SỐ CHUYỂN ĐỔI SỐ CẤP TỈNH`` and
    ``... (PDTI)`` are the same column (the ministry prints both).
    """
    hit = _BY_KEY.get(name_key(heading))
    if hit is None and _ABBREVIATION.search(heading):
        hit = _BY_KEY.get(name_key(_ABBREVIATION.sub("", heading)))
    return hit


def sort_key(indicator: str) -> int:
    """Order indicators as the ministry's table does: DTI, pillars, then the eight indicators."""
    return INDICATOR_IDS.index(indicator) if indicator in BY_ID else len(INDICATOR_IDS)
