"""Found by trying the Lines page as a new user: "201,,202" was refused with
"extension  does not exist" (an empty name); the message now says what is wrong."""
import pytest

from firmware.config import Config, ConfigError


@pytest.mark.parametrize("destination", ["201,,202", "201,", ",202", "group:201,,202"])
def test_an_empty_entry_in_a_list_is_named_as_such(tmp_path, destination) -> None:
    cfg = Config(tmp_path / "config.json")
    cfg.seed_defaults(["fxs1", "fxs2"], ["fxo1"])
    with pytest.raises(ConfigError, match="the list has an empty entry; separate extension numbers with "
                                          "single commas, such as 201,202"):
        cfg.set_inbound_route("fxo1", destination)
    assert cfg.inbound_routes() == [{"line": "fxo1", "destination": "201"}]      # nothing changed
    cfg.set_inbound_route("fxo1", destination.replace(",,", ",").strip(","))     # the fixed list is taken
    cfg.close()


def test_an_apps_missing_destination_is_not_called_an_extension(tmp_path) -> None:
    from firmware.config import DESTINATION_KINDS, register_destination_kind
    register_destination_kind("qaprobe", lambda cfg, v: f"there is no qaprobe {v!r}")
    cfg = Config(tmp_path / "config.json")
    try:
        cfg.seed_defaults(["fxs1"], ["fxo1"])
        with pytest.raises(ConfigError) as err:
            cfg.set_inbound_route("fxo1", "qaprobe:main")
        assert str(err.value).endswith("there is no qaprobe 'main'. Choose an existing qaprobe, or create it first.")
    finally:
        DESTINATION_KINDS.pop("qaprobe", None)       # other tests see the registry as it was
        cfg.close()
