"""The local cloud: the template's stack on moto, its functions run in this process (see docs/local-cloud.md)."""

from retrain.local.threads import bound_native_threads

bound_native_threads()
