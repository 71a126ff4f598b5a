"""The roles now live in `common.roles` (every app's views use them, so they sit below the apps). This module
keeps the names the project's first data migrations import (`config.migrations.000x_roles`)."""

from common.roles import Role, grant, grant_operation, require_perm, user_role_names

__all__ = ["Role", "grant", "grant_operation", "require_perm", "user_role_names"]
