"""`make run`: the demo on one machine (SQLite and the filesystem broker unless the env says otherwise)."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
