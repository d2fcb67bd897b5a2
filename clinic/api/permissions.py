from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import exceptions
from rest_framework.permissions import DjangoModelPermissions

if TYPE_CHECKING:
    # Not at run time: DRF imports this module (DEFAULT_PERMISSION_CLASSES) while rest_framework.views loads.
    from rest_framework.request import Request
    from rest_framework.views import APIView


class StaffModelPermissions(DjangoModelPermissions):
    """Django model permissions, reads included.

    DRF's DjangoModelPermissions lets any authenticated user read; patient
    data needs the `view_` permission as well, so roles can be granted one
    model at a time through Django groups.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def has_permission(self, request: Request, view: APIView) -> bool:
        # A method the view does not offer at all (DELETE on patients) is a
        # 405 for a logged-in user, not a 403 hinting that a role with more
        # permissions could do it. (A request always has a method; Django's type allows None.)
        method = request.method or ""
        if request.user and request.user.is_authenticated and not hasattr(view, method.lower()):
            raise exceptions.MethodNotAllowed(method)
        required = self._named_permissions(view)
        if required is not None:
            return bool(request.user and request.user.is_authenticated and request.user.has_perms(required))
        return super().has_permission(request, view)

    @staticmethod
    def _named_permissions(view: APIView) -> list[str] | None:
        # Actions that change an existing row through POST (revoke, cancel…)
        # name the permissions they need instead of the method's (POST would
        # otherwise mean "add"): `action_permissions = {"revoke": [...]}` on a
        # viewset, `required_permissions = [...]` on a view of one operation.
        required = getattr(view, "required_permissions", None)
        if required is None:
            required = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
        return None if required is None else list(required)

    def operation_permissions(self, view: APIView, method: str) -> list[str]:
        """The permissions `method` on `view` needs (what the schema tells integrators their key must hold)."""
        required = self._named_permissions(view)
        if required is not None:
            return required
        queryset = getattr(view, "queryset", None)
        if queryset is None:
            return []
        return list(self.get_required_permissions(method, queryset.model))
