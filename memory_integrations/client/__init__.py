"""The public clients."""

from ._async import AsyncAgentMemoryClient, AsyncSessionResource, AsyncUserResource
from ._sync import AgentMemoryClient, SessionResource, UserResource

__all__ = [
    "AgentMemoryClient",
    "AsyncAgentMemoryClient",
    "AsyncSessionResource",
    "AsyncUserResource",
    "SessionResource",
    "UserResource",
]
