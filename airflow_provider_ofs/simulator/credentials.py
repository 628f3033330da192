"""Credentials the simulator accepts: OAuth client, IAM user, and the ESI identity headers."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SimulatorCredentials:
    """What a client must present. The defaults are demo values, printed in the connection line."""

    client_id: str = "ofs-demo-client"
    client_secret: str = "ofs-demo-secret"
    username: str = "batch_user"
    password: str = "batch-password"
    tenant_id: str = "DEMO_TENANT"
    service_id: str = "DEMO_SERVICE"
    workspace_id: str = "WS001"
    #: The ``ofs_remote_user`` header: a BATCH_EXEC user of OFS, its own credential (ESI-NOTES 18).
    #: Empty means the IAM ``username``, so that connections without ``remote_user`` keep working.
    remote_user: str = field(default="")

    def __post_init__(self) -> None:
        if not self.remote_user:
            object.__setattr__(self, "remote_user", self.username)

    def __repr__(self) -> str:  # never show the secrets in a traceback or log
        return (
            f"SimulatorCredentials(client_id={self.client_id!r}, username={self.username!r}, "
            f"remote_user={self.remote_user!r}, "
            f"tenant_id={self.tenant_id!r}, service_id={self.service_id!r}, workspace_id={self.workspace_id!r})"
        )
