"""How instances of `touchpoint imap` divide the folders among themselves."""

from services.ingest.imap.leases import fair_share


def test_fair_shares_add_up_to_every_folder_whoever_computes_them():
    alive = ["a", "b", "c"]
    assert [fair_share(4, alive, owner) for owner in alive] == [2, 1, 1]
    assert [fair_share(2, alive, owner) for owner in alive] == [1, 1, 0]
    assert fair_share(5, ["solo"], "solo") == 5
