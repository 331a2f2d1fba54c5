"""The ``retrain`` command (the console script ``retrain.cli:main``).

:mod:`~retrain.cli.parser` builds the arguments; the handlers live by topic:
:mod:`~retrain.cli.local` (no AWS account needed), :mod:`~retrain.cli.runs` (a
stack's runs), :mod:`~retrain.cli.models` (a model on a stack) and
:mod:`~retrain.cli.stack` (the stack's names, region and teardown). Every AWS
call goes through :mod:`retrain.aws`.
"""

from retrain.cli.parser import build_parser, main

__all__ = ["build_parser", "main"]
