"""Errors of aria_auth's grants part. Each docstring is the message and says how to fix the problem."""

from __future__ import annotations

from aria_actors.auth.errors import AuthError


class InvalidGrant(AuthError):
    """A resource, grant, group or decision field is invalid (the message names it); fix it and
    send it again."""

    type = "auth-invalid-grant"
    status = 400
    title = "Invalid grant"


class GrantSubjectNotFound(InvalidGrant):
    """The grant's subject does not exist in the resource's tenant (``aria auth users ls`` and
    ``aria auth grants groups ls`` list users and groups); grant to an existing one."""

    type = "auth-grant-subject-not-found"
    title = "Grant subject not found"


class ResourceNotFound(AuthError):
    """No resource of this kind has this id in aria_auth; its service registers it, or an
    administrator does (``aria auth grants register KIND ID --owner USER_ID``)."""

    type = "auth-resource-not-found"
    status = 404
    title = "Resource not found"


class ResourceExists(AuthError):
    """This resource is already registered with another owner; share it through its owner instead."""

    type = "auth-resource-exists"
    status = 409
    title = "Resource exists"


class GrantNotFound(AuthError):
    """No grant on this resource has this id (``aria auth grants ls KIND ID`` lists them)."""

    type = "auth-grant-not-found"
    status = 404
    title = "Grant not found"


class GroupNotFound(AuthError):
    """No group has this id (``aria auth grants groups ls`` lists them)."""

    type = "auth-group-not-found"
    status = 404
    title = "Group not found"


class GroupExists(AuthError):
    """A group with this name already exists in this tenant; choose another name."""

    type = "auth-group-exists"
    status = 409
    title = "Group exists"
