from rest_framework.permissions import DjangoModelPermissions


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
