"""Sub-commands of `cmi-hil`: one module each, with ``register(subparsers)``."""
