import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from mergetool.core.ranking import competition_rank, rank_change


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


@given(st.lists(st.integers(0, 60), min_size=2, max_size=30), st.data())
def test_rank_bounds_always_hold_the_true_rank(ints, data) -> None:
    from decimal import Decimal

    from mergetool.dti.checks import rank_bounds

    values = {f"{i:02d}": Decimal(v) / 100 for i, v in enumerate(ints)}
    known_codes = data.draw(st.sets(st.sampled_from(sorted(values)), min_size=1))
    known = {c: values[c] for c in known_codes}
    for code in known:
        true = 1 + sum(w > values[code] for w in values.values())
        b = rank_bounds(known, len(values), code)
        assert b.lo <= true <= b.hi
        if len(known) == len(values):
            assert b.lo == b.hi == true


def test_half_up_is_excel_round() -> None:
    from mergetool.core.ranking import fmt4, is_half, round4

    assert str(round4(0.66475)) == "0.6648"  # float rounding gives 0.6647
    assert str(round4("0.00005")) == "0.0001"
    assert fmt4(0.7069000000000001) == "0.7069"
    assert is_half("0.52095")
    assert not is_half(0.5209)
    df = pl.DataFrame({"value": [0.66475, 0.6648, 0.6647]})
    assert df.select(competition_rank())["value"].to_list() == [1, 1, 3]


def test_a_value_shown_as_zero_has_no_minus_sign() -> None:
    """A difference of -3e-18 (an exact recomputation against an 18-decimal value) is shown
    0.0000, not -0.0000 (verify printed '-0.0000' beside 'match'); -0.00005 stays -0.0001."""
    from mergetool.core.ranking import fmt4

    assert fmt4(-3e-18) == "0.0000"
    assert fmt4(-0.0) == "0.0000"
    assert fmt4("-0.00004") == "0.0000"
    assert fmt4(-0.00005) == "-0.0001"
    assert fmt4(-0.25) == "-0.2500"
