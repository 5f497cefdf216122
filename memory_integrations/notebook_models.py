"""The notebooks' models, kept under their first name: see :mod:`memory_integrations.offline`."""

from .offline import *  # noqa: F403
from .offline import __all__ as __all__
