from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Project-wide glue: roles, navigation, health, the worker heartbeat and `seed_demo`."""

    name = "config"
    label = "core"
    verbose_name = "Passthrough core"
