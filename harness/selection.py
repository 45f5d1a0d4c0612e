"""Select conformance tests by requirement id: ``--requirement ID`` (repeatable), a pytest plugin.

``-k led`` matches names, so it also picks select/deselect tests; a requirement id is exact. Every test that
cites one of the given ids runs; the rest are deselected (pytest reports them as such). An id that is not in
the catalogue is a usage error naming the known ids of that area, so a typo never yields an empty, green run.
"""

from __future__ import annotations

import pytest

from harness.requirements import CatalogueError, load_catalogue


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("cmi-hil").addoption(
        "--requirement",
        dest="cmi_requirement",
        action="append",
        default=[],
        metavar="ID",
        help="only tests citing this requirement id (repeatable), e.g. --requirement UI-LED",
    )


def check_ids(wanted: list[str], known: set[str]) -> None:
    """Raise :class:`pytest.UsageError` for ids the catalogue does not hold."""
    unknown = [rid for rid in wanted if rid not in known]
    if not unknown:
        return
    prefixes = {rid.split("-", 1)[0] for rid in unknown}
    near = sorted(k for k in known if k.split("-", 1)[0] in prefixes) or sorted(known)
    raise pytest.UsageError(
        f"--requirement: unknown requirement id(s) {', '.join(unknown)}; known ids include {', '.join(near)} "
        "(cmi-hil requirements lists them all)"
    )


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    wanted: list[str] = list(config.getoption("cmi_requirement") or [])
    if not wanted:
        return
    from harness.pytest_plugin import requirement_ids

    cat_path = config.getoption("cmi_requirements", None)
    try:
        catalogue = load_catalogue(cat_path if cat_path else None)
    except CatalogueError as exc:
        raise pytest.UsageError(str(exc)) from None
    check_ids(wanted, set(catalogue.by_id()))
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        (keep if set(requirement_ids(item)) & set(wanted) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
