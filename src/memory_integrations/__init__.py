"""memory-integrations: drop-in persistent memory for agent frameworks."""

__version__ = "0.1.0"

from . import errors  # noqa: E402
from ._models import (  # noqa: E402
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
from ._settings import Settings  # noqa: E402
from .client import (  # noqa: E402
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
    "Settings",
    "UpdateMemoryResponse",
    "User",
    "UserList",
    "UserResource",
    "SessionResource",
    "__version__",
    "errors",
]
