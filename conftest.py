"""Root conftest: loads the conformance suite's pytest plugin and its fixtures.

The plugin only writes evidence with ``--evidence-dir`` and only reports coverage for ``testcases/``
runs, so the self-tests under ``tests/`` are not affected; fixtures are lazy (nothing opens a bench
unless a test asks for it).
"""

pytest_plugins = [
    "harness.pytest_plugin",
    "harness.console.progress",
    "harness.selection",
    "harness.junit",
    "fixtures.bench",
    "fixtures.mbus",
    "fixtures.dut",
    "fixtures.operator",
    "fixtures.rate_inputs",
    "pytester",
]
