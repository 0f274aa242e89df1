"""The README says what the code does: its configuration table is the models' own."""

from configuration.errors import model_fields
from configuration.sections import SECTION_MODELS
from configuration.table import README, config_table, readme_table


def test_readme_configuration_table_is_generated_from_the_models() -> None:
    # Fix: python -m configuration.table --write
    assert readme_table(README.read_text()) == config_table()


def test_the_table_has_one_row_per_key_with_its_default_and_description() -> None:
    rows = [row.split(" | ") for row in config_table().splitlines()[2:]]
    fields = [
        (name, field)
        for model in SECTION_MODELS.values()
        for name, field in model_fields(model).items()
    ]
    assert len(rows) == len(fields)
    for row, (name, field) in zip(rows, fields, strict=True):
        assert row[1] == f"`{name}`"
        assert row[3] == field.description
        assert row[4]  # what a change does, for every key
    replicas = next(row for row in rows if row[1] == "`replicas`" and row[3].endswith("100"))
    assert replicas[2] == "`3`"  # the app's default, as the model says
