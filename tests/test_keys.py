"""sync.keys: the forms a workbook row's key takes."""

from __future__ import annotations

from sync.keys import NEW_KEY, REMOVED_KEY, is_new_key, row_key


def test_a_new_row_without_id_or_reference_is_keyed_by_its_row() -> None:
    assert row_key(37) == "row:37"
    assert is_new_key(row_key(37))


def test_neu_and_new_references_are_new_keys_in_any_case_but_ids_are_not() -> None:
    assert is_new_key("neu-Bäckerei") and is_new_key("NEW-1") and NEW_KEY.match("Neu-x")
    assert not is_new_key("1042") and not is_new_key("neu-") and not is_new_key("neuer Kunde")


def test_the_removed_marker_matches_every_spelling_the_sync_may_have_written() -> None:
    for key in ("gelöscht-1042", "geloescht-1042", "deleted-1042", "  Gelöscht-7"):
        assert REMOVED_KEY.match(key)
    assert not REMOVED_KEY.match("1042")
