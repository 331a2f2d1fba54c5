"""The one Logger, Tracer and Metrics of the package.

Service name and metric namespace come from ``POWERTOOLS_SERVICE_NAME`` and
``POWERTOOLS_METRICS_NAMESPACE`` (template ``Globals``).

The Tracer is made on the handler's first call, not at import: making one
imports the X-Ray SDK and botocore and patches botocore (about 0.2 s of a light
function's 0.6 s import), and every handler decorates itself at import. The
first call pays it instead, once per sandbox, before the handler's body runs, so
every AWS call of the body is traced as before.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger, Metrics

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

Handler = TypeVar("Handler", bound=Callable[..., Any])

logger = Logger()
metrics = Metrics()


class LazyTracer:
    """powertools' :class:`~aws_lambda_powertools.Tracer`, made when a decorated handler is first called."""

    def __init__(self) -> None:
        self._tracer: Tracer | None = None

    @property
    def tracer(self) -> Tracer:
        """The Tracer (made on first use)."""
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer()
        return self._tracer

    def capture_lambda_handler(self, handler: Handler | None = None, **options: Any) -> Any:
        """``Tracer.capture_lambda_handler`` with the same options, resolved on the handler's first call."""
        if handler is None:
            return functools.partial(self.capture_lambda_handler, **options)
        traced: Callable[..., Any] | None = None

        @functools.wraps(handler)
        def call(event: Any, context: Any) -> Any:
            nonlocal traced
            if traced is None:
                traced = self.tracer.capture_lambda_handler(handler, **options)
            return traced(event, context)

        return call

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tracer, name)


tracer = LazyTracer()
