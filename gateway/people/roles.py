"""What a person or token may be: the roles, without the tables (the command line's options use
them, and it should not load SQLAlchemy to say what options it has)."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"  # people and site
    OPERATOR = "operator"  # command centre: cases and tasks in their areas
    DEPARTMENT = "department"  # 部门报到: sees cases escalated to its department, acknowledges them
    INSTALLER = "installer"  # devices in their areas
    WORKER = "worker"  # 网格员: own tasks, own position, own availability
