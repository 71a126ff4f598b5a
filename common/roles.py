"""The roles of DESIGN.md ("Users and roles") as Django groups, and what each may use.

Views check permissions server-side (`require_perm`); groups only bundle them. Every app's views use this module,
so it sits at the bottom layer (common); the data migrations that create the groups and grant permissions use
`grant()` / `grant_operation()`, passing explicit codenames so an old migration never changes meaning when this
module does.
"""

from collections.abc import Callable, Iterable
from enum import StrEnum
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.management import create_permissions
from django.core.exceptions import PermissionDenied
from django.db import migrations
from django.http import HttpRequest, HttpResponse


class Role(StrEnum):
    SALES_OPS = "Sales Ops"
    FINANCE = "Finance"
    MANAGER = "Manager"


def user_role_names(user) -> list[str]:
    """Role names for display: the user's groups, plus "Admin" for superusers."""
    if not user.is_authenticated:
        return []
    if not hasattr(user, "_passthrough_roles"):  # once per request, however many templates ask
        names = sorted(g.name for g in user.groups.all())
        if user.is_superuser:
            names.append("Admin")
        user._passthrough_roles = names
    return user._passthrough_roles


def require_perm(*perms: str) -> Callable:
    """Login first (anonymous → login page), then every permission or 403."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.has_perms(perms):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapped)

    return decorator


def grant(apps, schema_editor, role: str, perms: Iterable[str]) -> None:
    """Create the group if needed and give it `app_label.codename` permissions (for migrations)."""
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=role)
    for perm in perms:
        app_label, codename = perm.split(".")
        group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def grant_operation(roles: dict[str, list[str]]) -> migrations.RunPython:
    """A migration operation giving each role its permissions (and taking them back when reversed).

    `roles` maps a group name to `app_label.codename` permissions, written out in the migration itself."""

    def forward(apps, schema_editor):
        for role, perms in roles.items():
            grant(apps, schema_editor, role, perms)

    def backward(apps, schema_editor):
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
        for role, perms in roles.items():
            group = Group.objects.filter(name=role).first()
            for perm in perms if group else []:
                app_label, codename = perm.split(".")
                group.permissions.remove(
                    *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
                )

    return migrations.RunPython(forward, backward)
