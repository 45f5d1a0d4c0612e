"""Requirement ids in JUnit XML (``--junitxml``): each test case carries one ``requirement`` property per id.

Jenkins and GitLab read these properties, so a nightly job's test report is traceable to
``harness/requirements.yaml`` the same way the evidence report is. ``cmi-hil run --junit FILE`` writes it.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    from harness.pytest_plugin import requirement_ids

    for item in items:
        for rid in requirement_ids(item):
            if ("requirement", rid) not in item.user_properties:
                item.user_properties.append(("requirement", rid))
