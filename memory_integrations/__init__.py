"""memory-integrations: drop-in persistent memory for agent frameworks."""

from . import errors
from ._models import (
    AddMemoryResponse,
    ChatMessage,
    DeleteMemoryResponse,
    FilterOptions,
    HealthPingResponse,
    HealthStatus,
    ListMemoriesResponse,
    MemoryBlock,
    MemoryBlockStatus,
    MemoryList,
    MessageRole,
    RetentionConfig,
    Session,
    SessionList,
    UpdateMemoryResponse,
    User,
    UserList,
)
from ._settings import Settings
from ._version import __version__
from .client import (
    AgentMemoryClient,
    AsyncAgentMemoryClient,
    AsyncSessionResource,
    AsyncUserResource,
    SessionResource,
    UserResource,
)

__all__ = [
    "AddMemoryResponse",
    "AgentMemoryClient",
    "AsyncAgentMemoryClient",
    "AsyncSessionResource",
    "AsyncUserResource",
    "ChatMessage",
    "DeleteMemoryResponse",
    "FilterOptions",
    "HealthPingResponse",
    "HealthStatus",
    "ListMemoriesResponse",
    "MemoryBlock",
    "MemoryBlockStatus",
    "MemoryList",
    "MessageRole",
    "RetentionConfig",
    "Session",
    "SessionList",
    "SessionResource",
    "Settings",
    "UpdateMemoryResponse",
    "User",
    "UserList",
    "UserResource",
    "__version__",
    "errors",
]
