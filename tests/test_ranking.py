import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from mergetool.ranking import competition_rank, rank_change


def test_ties_share_a_rank_and_skip_the_next() -> None:
    # 2021 as published: Thanh Hóa and Vĩnh Phúc both 12th at 0.4880, Hải Dương 14th.
    df = pl.DataFrame({"u": ["Nam Định", "Thanh Hóa", "Vĩnh Phúc", "Hải Dương"],
                       "value": [0.4885, 0.4880, 0.4880, 0.4843]})
    assert df.select(competition_rank())["value"].to_list() == [1, 2, 2, 4]


def test_values_equal_at_4_decimals_tie() -> None:
    df = pl.DataFrame({"value": [0.70690000001, 0.7069, 0.7071]})
    assert df.select(competition_rank())["value"].to_list() == [2, 2, 1]


def test_rank_change_is_places_gained() -> None:
    df = pl.DataFrame({"rank": [3], "previous_rank": [8]})
    assert df.select(rank_change())["previous_rank"].to_list() == [5]


@given(st.lists(st.integers(0, 10_000), min_size=1, max_size=40))
def test_competition_rank_matches_definition(ints) -> None:
    values = [i / 10_000 for i in ints]
    got = pl.DataFrame({"value": values}).select(competition_rank())["value"].to_list()
    assert got == [1 + sum(w > v for w in values) for v in values]
