import pytest
from hypothesis import given
from hypothesis import strategies as st

from mergetool.names import ascii_key, name_key, nearest, normalise_code


@pytest.mark.parametrize(("a", "b"), [
    ("Thanh Hoá", "Thanh Hóa"),
    ("Tỉnh Khánh Hoà", "Khánh Hòa"),
    ("TP. Hồ Chí Minh", "Thành phố Hồ Chí Minh"),
    ("Bà Rịa – Vũng Tàu", "Bà Rịa-Vũng Tàu"),
    ("Bình Ðịnh", "Bình Định"),  # U+00D0 ETH, as found in real data
    ("THỪA THIÊN - HUẾ", "Thừa Thiên Huế"),
    ("\u0110a\u0300 N\u0103\u0303ng", "Đà Nẵng"),  # decomposed (NFD)
    ("  Hà\u00a0Nội ", "Hà Nội"),
])
def test_spellings_of_one_name_share_a_key(a: str, b: str) -> None:
    assert name_key(a) == name_key(b)


def test_tone_placement_only_changes_syllable_final_diphthongs() -> None:
    assert name_key("Hoàng") == "hoàng"
    assert name_key("Hoà Bình") == "hòa bình"


def test_ascii_key_strips_diacritics_and_d_bar() -> None:
    assert ascii_key("Đắk Lắk") == "dak lak"


def test_nearest_suggests_closest_names() -> None:
    assert nearest("Da Nag", ["Đà Nẵng", "Hà Nam", "Cà Mau"])[0] == "Đà Nẵng"


@pytest.mark.parametrize(("raw", "code"), [("1", "01"), ("01", "01"), ("1.0", "01"), ("79", "79"),
                                           ("x1", None), ("", None)])
def test_codes_are_zero_padded_strings(raw: str, code: str | None) -> None:
    assert normalise_code(raw) == code


@given(st.text())
def test_name_key_is_idempotent(text: str) -> None:
    assert name_key(name_key(text)) == name_key(text)
