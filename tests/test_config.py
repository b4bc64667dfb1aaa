import pytest

from mmff.config import ConfigError, config_from_dict, config_to_dict, parse_override


def test_defaults_round_trip():
    cfg = config_from_dict({})
    assert config_from_dict(config_to_dict(cfg)) == cfg
    assert cfg.num_frames == 1


@pytest.mark.parametrize("data, key", [
    ({"model": {"fusion": {"type": "concat"}}}, "model.fusion.type"),
    ({"model": {"skeleton": {"rnn_layerz": 2}}}, "model.skeleton.rnn_layerz"),
    ({"data": {"positions": [1.5]}}, "data.positions"),
    ({"model": {"skeleton": {"rnn_layers": 4}}}, "model.skeleton.rnn_layers"),
    ({"train": {"lr": "fast"}}, "train.lr"),
    ({"model": {"rgb": {"self_attention": "yes"}}}, "model.rgb.self_attention"),
])
def test_bad_key_or_value_names_the_key(data, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        config_from_dict(data)


def test_override():
    cfg = config_from_dict(parse_override("model.fusion.type=sum"))
    assert cfg.model.fusion.type == "sum"


def test_override_flow_mapping_without_spaces():
    cfg = config_from_dict(parse_override("train.epochs={1:2,2:1,3:1}"))
    assert cfg.train.epochs == {1: 2, 2: 1, 3: 1}
    with pytest.raises(ConfigError, match="train.lr"):
        parse_override("train.lr=[1")


def test_data_and_model_num_person_must_agree(tmp_path):
    from mmff.config import load_config

    ok = config_from_dict({"data": {"num_person": 1}, "model": {"skeleton": {"num_person": 1}}})
    assert ok.data.num_person == ok.model.skeleton.num_person == 1
    with pytest.raises(ConfigError, match=r"data\.num_person: 1 .* model\.skeleton\.num_person is 2"):
        config_from_dict({"data": {"num_person": 1}})
    f = tmp_path / "c.yaml"
    f.write_text("model:\n  skeleton:\n    num_person: 3\n")
    with pytest.raises(ConfigError, match=r"c\.yaml: data\.num_person: 2 .*model\.skeleton\.num_person is 3"):
        load_config(f)
