"""The DTI's indicators: one place for each indicator's id, labels and kind.

Ids are the short English names used in every file the tool writes. Labels are
the ministry's (Vietnamese) and an English translation; ``aliases`` lists the
column headings seen in real tables, matched after :func:`names.name_key` folding.
"""

from __future__ import annotations

import re

from mergetool.io.catalogue import Catalogue, Indicator

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

#: The DTI as a catalogue: values are indices on [0, 1]; the ministry prints a heading with or
#: without its abbreviation (``CHỈ SỐ CHUYỂN ĐỔI SỐ CẤP TỈNH`` and ``... (PDTI)`` are one column).
CATALOGUE = Catalogue("DTI", INDICATORS, value_range=(0.0, 1.0),
                      abbreviation=re.compile(r"\s*\((p?dti|cqs|kts|xhs)\)\s*$", re.IGNORECASE),
                      examples="dti, awareness or 'Chỉ số Nhận thức số'")
BY_ID = CATALOGUE.by_id
INDICATOR_IDS: tuple[str, ...] = CATALOGUE.ids


def indicator_id(heading: str) -> str | None:
    """The DTI indicator id a column heading or long-table label denotes, or None."""
    return CATALOGUE.id_of(heading)
