"""Photos patients send with a side-effect check-in: checked, re-encoded, and stripped of metadata.

A phone's photo carries EXIF metadata: where it was taken (GPS), when, and
on what device. None of it belongs in a clinical record, and the location
is the patient's home. So the picture is decoded and written again as a new
JPEG from its pixels alone: no EXIF, no XMP, no ICC text, nothing of the
original file but the image (turned upright first, as the EXIF orientation
said, since that tag goes too). Large pictures are scaled down to
PHOTO_MAX_SIDE pixels, plenty to see skin, and files that are not a JPEG,
PNG or WebP still image, or are larger than allowed, are refused.
"""

from __future__ import annotations

import io
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
PHOTO_MAX_SIDE = 2048
# Decompression bombs: a small file that decodes to a huge image.
MAX_PIXELS = 50_000_000


def photo_clean(upload: UploadedFile) -> ContentFile:
    """Return the photo as a new JPEG without metadata; raise ValidationError for anything else."""
    if upload.size is not None and upload.size > settings.AFTERCARE_PHOTO_MAX_BYTES:
        limit = settings.AFTERCARE_PHOTO_MAX_BYTES // (1024 * 1024)
        raise ValidationError(_("The photo is too large: send one under %(limit)s MB.") % {"limit": limit})
    try:
        with Image.open(upload) as probe:
            if probe.format not in ACCEPTED_FORMATS:
                raise ValidationError(_("Send the photo as a JPEG, PNG or WebP picture."))
            if probe.width * probe.height > MAX_PIXELS:
                raise ValidationError(_("The photo is too large: send a smaller one."))
        upload.seek(0)
        with Image.open(upload) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
            picture = upright.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as exc:
        raise ValidationError(_("This file is not a picture we can read: send a JPEG, PNG or WebP photo.")) from exc
    picture.thumbnail((PHOTO_MAX_SIDE, PHOTO_MAX_SIDE))
    output = io.BytesIO()
    # A new image from pixels: Pillow writes no EXIF unless it is given one.
    picture.save(output, format="JPEG", quality=85, optimize=True)
    return ContentFile(output.getvalue(), name=f"{uuid.uuid4().hex}.jpg")
