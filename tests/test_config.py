"""The params schema: one clear message per mistake, naming the file and the key."""

from pathlib import Path

import pytest

from seglib.config import load_params
from seglib.errors import ParamsError
from tests.conftest import tx_params, write_params

PARAMS_DIR = Path(__file__).resolve().parents[1] / "params"


@pytest.mark.parametrize("path", sorted(PARAMS_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_params_file_validates(path):
    """Every params/*.yaml in the repository loads and validates against the schema."""
    params = load_params(path)
    assert params.client


def test_typo_in_key_names_file_key_and_allowed_keys(tmp_path):
    """An unknown key (a typo) is an error naming the file, the key and the allowed keys."""
    data = tx_params()
    data["clustering"]["k_mx"] = 5
    path = write_params(tmp_path, data)
    with pytest.raises(ParamsError) as err:
        load_params(path)
    msg = str(err.value)
    assert str(path) in msg and "clustering.k_mx" in msg and "k_max" in msg


def test_wrong_type_and_impossible_value(tmp_path):
    """A wrong type and an impossible value are both reported, with what was found."""
    data = tx_params()
    data["clustering"] = {"k_min": "three", "min_share": 0.9}
    with pytest.raises(ParamsError) as err:
        load_params(write_params(tmp_path, data))
    msg = str(err.value)
    assert "clustering.k_min" in msg and "'three'" in msg
    assert "clustering.min_share" in msg and "0.9" in msg


def test_missing_required_key(tmp_path):
    """A params file without 'client' says the key is missing."""
    data = tx_params()
    del data["client"]
    with pytest.raises(ParamsError, match="missing required key 'client'"):
        load_params(write_params(tmp_path, data))


def test_k_range_must_be_ordered(tmp_path):
    """k_max below k_min is refused with both numbers."""
    data = tx_params()
    data["clustering"] = {"k_min": 5, "k_max": 3}
    with pytest.raises(ParamsError, match=r"k_max must be >= k_min=5 \(got 3\)"):
        load_params(write_params(tmp_path, data))


def test_unknown_column_role(tmp_path):
    """A column role that seglib does not know is listed with the allowed roles."""
    data = tx_params()
    data["input"]["transactions"]["columns"]["price"] = "UnitPrice"
    with pytest.raises(ParamsError, match="unknown column role"):
        load_params(write_params(tmp_path, data))


def test_yaml_is_data_not_code(tmp_path):
    """A python object tag in YAML is refused (safe loading), not executed."""
    path = tmp_path / "evil.yaml"
    path.write_text("client: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(path)


def test_missing_params_file(tmp_path):
    """A params path that does not exist is named in the error."""
    with pytest.raises(ParamsError, match="params file not found"):
        load_params(tmp_path / "nope.yaml")


def test_relative_paths_resolve_from_params_folder(tmp_path):
    """input paths are read relative to the params file's folder."""
    params = load_params(write_params(tmp_path, tx_params("sub/tx.csv")))
    assert params.resolve("sub/tx.csv") == (tmp_path / "sub" / "tx.csv").resolve()


def test_client_id_keeps_its_type(tmp_path):
    """A quoted client id "007" stays the text "007"; an unquoted 007 (a number in YAML) is refused clearly."""
    data = tx_params()
    data["client"] = "007"
    assert load_params(write_params(tmp_path, data)).client == "007"
    path = tmp_path / "n.yaml"
    path.write_text(write_params(tmp_path, tx_params()).read_text().replace("client: tiny", "client: 007"))
    with pytest.raises(ParamsError, match="'client' Input should be a valid string"):
        load_params(path)
