"""dbt runs in its own environment: dagster-dbt's warning that it cannot import dbt-core for an
adapter handle is expected and silenced, and nothing else is."""

import logging
import sys

from assets.dbt_project import _not_the_missing_dbt_core, expect_dbt_elsewhere

MESSAGE = "An error was encountered when creating a handle to the dbt adapter in Dagster."


def _record(error: BaseException | None, message: str = MESSAGE) -> logging.LogRecord:
    exc_info = (type(error), error, None) if error is not None else None
    return logging.LogRecord("dagster.builtin", logging.WARNING, __file__, 1, message, (), exc_info)


def test_only_the_missing_dbt_core_is_silenced():
    missing = ModuleNotFoundError("No module named 'dbt'", name="dbt")
    assert not _not_the_missing_dbt_core(_record(missing))
    # another adapter failure, another missing module, another message: all still shown
    assert _not_the_missing_dbt_core(_record(RuntimeError("profile not found")))
    other = ModuleNotFoundError("No module named 'dbtx'", name="dbtx")
    assert _not_the_missing_dbt_core(_record(other))
    # dbt-core present but broken (a submodule missing) is not "dbt elsewhere": still shown
    broken = ModuleNotFoundError("No module named 'dbt.adapters'", name="dbt.adapters")
    assert _not_the_missing_dbt_core(_record(broken))
    assert _not_the_missing_dbt_core(_record(None))
    assert _not_the_missing_dbt_core(_record(missing, "dbt build failed"))


def test_the_filter_sits_on_dagster_dbts_logger(caplog):
    expect_dbt_elsewhere()
    logger = logging.getLogger("dagster.builtin")
    with caplog.at_level(logging.WARNING, logger="dagster.builtin"):
        try:
            import dbt.adapters.factory  # noqa: F401  # pyright: ignore[reportMissingImports]
        except ModuleNotFoundError:
            logger.warning(MESSAGE, exc_info=sys.exc_info())
        logger.warning("the adapter could not connect")
    assert [r.getMessage() for r in caplog.records] == ["the adapter could not connect"]
