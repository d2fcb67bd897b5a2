"""The side-effect check-in form on the patient's page: symptoms, severity, onset, their words, a photo."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from aftercare.models import Symptom
from aftercare.photos import photo_clean

# The patient's words for the symptoms and severities staff record.
SYMPTOM_CHOICES = [
    (Symptom.REDNESS, _("Redness")),
    (Symptom.SWELLING, _("Swelling")),
    (Symptom.BUMPS, _("Small bumps")),
    (Symptom.BRUISING, _("Bruising")),
    (Symptom.PAIN, _("Pain")),
    (Symptom.IRRITATION, _("Stinging, burning or soreness")),
    (Symptom.ITCHING, _("Itching")),
    (Symptom.RASH, _("A rash")),
    (Symptom.PUS, _("Pus or discharge")),
    (Symptom.FEVER, _("Fever")),
]
SEVERITY_CHOICES = [
    ("mild", _("Mild: I notice it, it does not bother me much")),
    ("moderate", _("Moderate: it bothers me")),
    ("severe", _("Severe: very painful, very swollen, or getting worse fast")),
]
NOTES_MAX_LENGTH = 2000


class CheckInForm(forms.Form):
    symptoms = forms.MultipleChoiceField(
        label=_("What do you notice?"),
        choices=SYMPTOM_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Tick at least one.")},
    )
    severity = forms.ChoiceField(
        label=_("How bad is it?"),
        choices=SEVERITY_CHOICES,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose one.")},
    )
    onset_on = forms.DateField(
        label=_("When did it start?"),
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
    )
    notes = forms.CharField(
        label=_("Anything else you want to tell us (optional)"),
        required=False,
        max_length=NOTES_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    photo = forms.FileField(
        label=_("A photo of the area (optional)"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}),
        help_text=_("Only your clinic sees it. We remove the location and device details from the picture."),
    )

    def __init__(self, *args: Any, session_day: date, today: date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session_day, self.today = session_day, today
        self.fields["onset_on"].initial = today
        self.fields["onset_on"].widget.attrs.update(min=session_day.isoformat(), max=today.isoformat())

    def clean_onset_on(self) -> date:
        onset_on: date = self.cleaned_data["onset_on"]
        if onset_on > self.today:
            raise forms.ValidationError(_("That day has not come yet."))
        if onset_on < self.session_day:
            raise forms.ValidationError(_("Choose a day from your session on."))
        return onset_on

    def clean_photo(self) -> Any:
        upload = self.cleaned_data.get("photo")
        return photo_clean(upload) if upload else None
