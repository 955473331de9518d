import pytest
from hypothesis import given
from hypothesis import strategies as st

from mergetool.core.names import ascii_key, name_key, nearest, normalise_code


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



@pytest.mark.parametrize(("name", "code"), [
    ("Thanh pho Ha Noi", "01"), ("Tinh Bac Kan", "06"), ("Thanh pho Da Nang", "48"),
    ("Thanh Pho Can Tho", "92"), ("Thu do Ha Noi", "01"), ("Tp Ho Chi Minh", "79"),
    ("TP. Ho Chi Minh", "79"), ("Thành phố Hà Nội", "01"), ("Ha Noi", "01"), ("TP.HCM", "79"),
])
def test_prefixes_written_without_diacritics_are_prefixes_too(name: str, code: str, shipped) -> None:
    assert shipped.resolve(name, "vn-province-2024") == code


def test_tinh_with_a_tone_is_not_the_prefix() -> None:
    from mergetool.core.names import bare_ascii_key

    assert bare_ascii_key("Tịnh Biên") is None  # tịnh is not tỉnh
    assert bare_ascii_key("Tinh Bac Kan") == "bac kan"
    assert bare_ascii_key("Tinhbien") is None


def test_no_shipped_name_loses_a_word_to_the_undiacritised_prefixes() -> None:
    """Every unit and alias name of the shipped mappings, also written without diacritics
    (``Tinh Nhue``, a commune), still resolves to its own unit, never to another."""
    import unicodedata

    from mergetool.core.mapping import load_mappings, shipped_mappings_dir

    checked = 0
    for mapping in ("vn-2025", "vn-2025-wards"):
        ms = load_mappings(shipped_mappings_dir(mapping))
        for basis in ms.bases.values():
            resolver = basis.resolver
            for name in set(resolver.names):
                own = resolver.resolve(name)
                if own is None:  # a name two units share: only the code can say
                    continue
                plain = "".join(c for c in unicodedata.normalize("NFD", name.replace("đ", "d")
                                                                 .replace("Đ", "D"))
                                if not unicodedata.combining(c))
                assert resolver.resolve(plain) in (own, None), (resolver.basis, name)
                checked += 1
    assert checked > 5_000
