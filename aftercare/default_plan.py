"""The default facial-mesotherapy aftercare plan: what the patient is told, and when.

Loaded by data migrations (0002 loads the first version, frozen in
migrations/_plan_v1.py; 0006 brings every text a clinic has not edited up to
this one). Clinics edit the plan in the admin afterwards. The wording is ours;
the facts (every number) follow the product spec §1, and a test checks that
each one reaches the patient.

Templates use Django template syntax. Variables: first_name, session_date,
clinic_name, clinic_phone (the location's, else CLINIC_PHONE), reply_to (the
location's email, empty when replies would reach no one), location_address,
first_session, session_number, sessions_remaining, next_window_start,
next_window_end, next_session; a booking change notice also knows
previous_session_date and previous_session_date_short (the time the patient
was told before). Every clause that needs an optional value is guarded by
`{% if %}`, so no state of a course leaves a gap ("call ." or an empty
paragraph).

Timing: each step is timed from the session, never from when it was recorded.
`expires_after_hours` says how long after its due time the advice is still
true (a session recorded later than that gets the step suppressed as out of
date); `announces_clearance` holds a step that says peels are fine again
until the conflict rule allows them.
"""

from __future__ import annotations

from datetime import time

SIGNATURE = "\n\n{{ clinic_name }}{% if clinic_phone %} · {{ clinic_phone }}{% endif %}"

# How to reach the clinic, mid-sentence ("please call us on …").
CALL_US = "{% if clinic_phone %}call us on {{ clinic_phone }}{% else %}contact {{ clinic_name }}{% endif %}"
# A text opens with the clinic's name, so without a number it says "us".
SMS_CALL = "{% if clinic_phone %}call {{ clinic_phone }}{% else %}contact us{% endif %}"
# The same, opening a sentence; the email's invites a reply when replies reach the clinic.
CALL_OR_REPLY = (
    "{% if clinic_phone %}Call {{ clinic_phone }}{% else %}Contact {{ clinic_name }}{% endif %}"
    "{% if reply_to %} or reply to this email{% endif %}"
)
SMS_CALL_SENTENCE = "{% if clinic_phone %}Call {{ clinic_phone }}{% else %}Contact us{% endif %}"

RED_FLAGS = (
    "Contact us straight away{% if clinic_phone %} on {{ clinic_phone }}{% endif %} if you notice any of these: "
    "persistent pain, severe swelling, swelling that lasts beyond a few days (prolonged swelling), itching, a rash, "
    "bruising that does not fade, or signs of infection such as pus or a fever."
)

BOOKING = (
    "{% if next_session %}Your next session is booked for {{ next_session }}."
    "{% elif sessions_remaining and next_window_start %}You have {{ sessions_remaining }} "
    "session{{ sessions_remaining|pluralize }} left in your course. Please book the next one between "
    "{{ next_window_start }} and {{ next_window_end }} (sessions are spaced 14 to 28 days apart)"
    "{% if clinic_phone %} by calling {{ clinic_phone }}{% if reply_to %} or by replying to this email{% endif %}"
    "{% elif reply_to %} by replying to this email{% endif %}.{% endif %}"
)

SMS_BOOKING = (
    "{% if next_session %}Next session: {{ next_session_short }}."
    "{% elif sessions_remaining and next_window_start %}Book your next session between "
    "{{ next_window_start_short }} and {{ next_window_end_short }}: " + SMS_CALL + ".{% endif %}"
)
# Every text links to the patient's page for the session, where the whole plan is: a text says what
# matters now, in one or two segments (aftercare.sms_text).
SMS_PAGE = "{% if page_url %} Aftercare: {{ page_url }}{% endif %}"

STEPS: list[dict] = [
    {
        "order": 1,
        "code": "immediate-first-48-hours",
        "name": "Straight after the session: the first 24–48 hours",
        "offset_unit": "hours",
        "offset_value": 0,
        "local_send_time": None,
        "kind": "aftercare",
        "condition": "always",
        # The first 48 hours are what it is about; recorded later than that, it is out of date.
        "expires_after_hours": 48,
        "email_subject": "Caring for your skin after your mesotherapy session",
        "email": (
            "Dear {{ first_name }},\n\n"
            "Thank you for coming in on {{ session_date }}. Here is how to look after your skin; every time "
            "below counts from your session.\n\n"
            "What is normal: redness, swelling, pinpoint bleeding and tiny bumps where the needles went in. "
            "They settle within 1–2 days. A bruise may appear; it fades within a week.\n\n"
            "Hands off: do not touch, rub, massage or pick at the treated area in the first days, even when "
            "it itches a little or feels bumpy.\n\n"
            "Gentle care: wash with a mild, fragrance-free, pH-balanced cleanser and lukewarm water, then pat "
            "dry (no rubbing). A cooling gel or aloe vera soothes the skin. Take cool showers, not hot ones.\n\n"
            "Products to pause, each counted from your session:\n"
            "- No makeup for at least 24 hours.\n"
            "- No exfoliants, retinoids or alcohol-based products for 24 hours minimum; the stronger ones "
            "need longer, as below.\n"
            "- No actives such as retinol and AHA/BHA acids for 3–5 days.\n"
            "- No vitamin C serums and exfoliants for 5–7 days.\n\n"
            "For the first 24–48 hours:\n"
            "- No heat for 48–72 hours: no sauna, steam room, hot yoga or hot showers.\n"
            "- No strenuous exercise for 24–48 hours.\n"
            "- No alcohol and no smoking for the first days: both slow healing.\n"
            "- Drink plenty of water, and use a hyaluronic-acid serum, a ceramide cream or a "
            "non-comedogenic moisturiser to keep the skin hydrated.\n\n"
            "Sun: wear a broad-spectrum mineral sunscreen, SPF 30+ (zinc oxide or titanium dioxide), every "
            "day, and reapply every 2–3 hours when outdoors. Keep out of the sun between 10:00 and 16:00 "
            "for 1 week. Add a hat and keep to the shade, and wear sunscreen indoors near windows and on "
            "cloudy days too.\n\n"
            "No chemical peels, laser or microdermabrasion for 14 days after the session.\n\n" + RED_FLAGS + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: redness, swelling and bumps settle in 1-2 days. Hands off the area; no makeup 24 h, "
            "no heat 48-72 h. Pain, rash, pus or fever: " + SMS_CALL + "." + SMS_PAGE
        ),
    },
    {
        "order": 2,
        "code": "day-1-check-in",
        "name": "Day 1: how are you feeling?",
        "offset_unit": "days",
        "offset_value": 1,
        "local_send_time": time(10, 0),
        "kind": "check_in",
        "condition": "always",
        "expires_after_hours": 24,
        "email_subject": "How is your skin doing?",
        "email": (
            "Dear {{ first_name }},\n\n"
            "We hope your skin is settling after your session on {{ session_date }}. Some redness or swelling "
            "in the first 1–2 days is expected.\n\n"
            "Please tell us how you are: {% if reply_to %}reply to this email or {% endif %}" + CALL_US + " if you "
            "have any pain, swelling, itching, a rash, bruising, pus or a fever. We record every report and a "
            "practitioner reviews anything unusual the same day.\n\n"
            "Until the area has settled, keep your hands off it: no touching, rubbing, massaging or picking.\n\n"
            + RED_FLAGS
            + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: how is your skin since your session?{% if page_url %} Tell us here: {{ page_url }}"
            "{% endif %} Severe pain or swelling, a rash, pus or fever: " + SMS_CALL + "."
        ),
    },
    {
        "order": 3,
        "code": "day-3-early-recovery",
        "name": "Day 3: early recovery",
        "offset_unit": "days",
        "offset_value": 3,
        "local_send_time": time(10, 0),
        "kind": "aftercare",
        "condition": "always",
        "expires_after_hours": 48,
        "email_subject": "Days 3 to 7: early recovery",
        "email": (
            "Dear {{ first_name }},\n\n"
            "Days 3 to 7 are early recovery. Your skin may feel dry or tight: keep drinking "
            "water and moisturise morning and evening with a hyaluronic-acid serum, a ceramide cream or a "
            "non-comedogenic moisturiser. Keep cleansing gently with lukewarm water, and leave any dry patches "
            "to come away on their own.\n\n"
            "Keep active ingredients paused a little longer: retinol and AHA/BHA acids for 3–5 days after the "
            "session (so not before day 5), vitamin C serums and exfoliants for 5–7 days (not before day 7).\n\n"
            "Keep wearing mineral SPF 30+ every day and stay out of the 10:00–16:00 sun until a week has "
            "passed." + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: days 3-7 are early recovery; dryness or tightness is normal, so moisturise."
            "{% if page_url %} How is your skin? Tell us: {{ page_url }}{% endif %}"
        ),
    },
    {
        "order": 4,
        "code": "day-7-sun-and-actives",
        "name": "Day 7: back to your routine",
        "offset_unit": "days",
        "offset_value": 7,
        "local_send_time": time(10, 0),
        "kind": "aftercare",
        "condition": "always",
        "expires_after_hours": 72,
        "email_subject": "One week on: back to your routine",
        "email": (
            "Dear {{ first_name }},\n\n"
            "A week has passed since your session on {{ session_date }}. Any bruising should now have faded; "
            "if it has not, please " + CALL_US + ".\n\n"
            "You can now bring back your active products one at a time: retinol and AHA/BHA first, then "
            "vitamin C serums and gentle exfoliants.\n\n"
            "The week of avoiding the 10:00–16:00 sun is over, but keep your daily mineral SPF 30+, with a hat "
            "and shade on bright days: sun exposure, smoking and poor skincare shorten how long results last.\n\n"
            "{% if first_session %}First results usually show after 1–2 weeks.{% else %}Each session builds on "
            "the ones before, and your skin keeps improving over the coming weeks.{% endif %}" + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: one week on, bruising should have faded (if not, " + SMS_CALL + "). Retinol, acids "
            "and vitamin C are fine again." + SMS_PAGE
        ),
    },
    {
        "order": 5,
        "code": "day-14-first-results",
        "name": "Day 14: results so far, peels allowed again, the next session",
        "offset_unit": "days",
        "offset_value": 14,
        "local_send_time": time(10, 0),
        "kind": "aftercare",
        "condition": "always",
        "prompts_booking": True,
        "announces_clearance": True,
        # Until the weeks 3–6 message takes over.
        "expires_after_hours": 7 * 24,
        "email_subject": "Two weeks on{% if first_session %}: your first results{% endif %}",
        "email": (
            "Dear {{ first_name }},\n\n"
            "{% if first_session %}Two weeks after your first session you should be seeing the first results: "
            "first results appear after 1–2 weeks and keep improving, with the optimal result after 4–6 weeks "
            "as new collagen builds up.{% else %}Two weeks after this session, its effect is adding to the "
            "sessions before it; your skin keeps improving for 4–6 weeks after each session as new collagen "
            "builds up.{% endif %}\n\n"
            "Chemical peels, laser and microdermabrasion are fine again now that 14 days have passed since your "
            "session.\n\n" + BOOKING + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: two weeks on{% if first_session %}, first results show{% endif %}; peels and laser "
            "are fine again. " + SMS_BOOKING + SMS_PAGE
        ),
    },
    {
        "order": 6,
        "code": "day-21-collagen",
        "name": "Weeks 3 to 6: collagen and progressive improvement",
        "offset_unit": "days",
        "offset_value": 21,
        "local_send_time": time(10, 0),
        "kind": "aftercare",
        "condition": "always",
        # Until the week-6 mark; a next session completed sooner replaces it.
        "expires_after_hours": 21 * 24,
        "email_subject": "Weeks 3 to 6: your skin keeps improving",
        "email": (
            "Dear {{ first_name }},\n\n"
            "Three weeks after your session on {{ session_date }}, your skin enters its busiest phase: in weeks "
            "3 to 6 collagen production peaks and the skin keeps improving, a little firmer and better hydrated "
            "week by week. The optimal result of a session shows after 4–6 weeks.\n\n"
            "Help it along: drink water, moisturise every day, and keep your mineral SPF 30+, with a hat and "
            "shade outdoors, and sunscreen even indoors near windows and on cloudy days. Smoking, sun exposure "
            "and poor skincare shorten results." + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: in weeks 3-6 collagen peaks and your skin keeps improving. Keep up water, moisturiser "
            "and daily SPF 30+." + SMS_PAGE
        ),
    },
    {
        "order": 7,
        "code": "week-6-full-results",
        "name": "Week 6 after the final session: full results and maintenance",
        "offset_unit": "days",
        "offset_value": 42,
        "local_send_time": time(10, 0),
        "kind": "aftercare",
        "condition": "final_session",
        "expires_after_hours": 30 * 24,
        "email_subject": "Your full results, and keeping them",
        "email": (
            "Dear {{ first_name }},\n\n"
            "Six weeks after your last session you are seeing the full effect of your course. Results "
            "usually last 6–12 months.\n\n"
            "To keep them, we recommend a maintenance session every 3–6 months (some longer-lasting plans "
            "need one only every 6–12 months). Smoking, sun exposure and poor skincare shorten results; dry "
            "or sun-damaged skin may need more sessions. We will remind you when maintenance is due.\n\n"
            "Keep up your daily mineral SPF 30+ and moisturiser." + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: six weeks on, you see your full results; they last 6-12 months. Maintenance every "
            "3-6 months keeps them; we will remind you." + SMS_PAGE
        ),
    },
]

# Messages outside the plan: prompts and reminders, one template each.
# Where the appointment is, as a paragraph of an email (the address, when the location has one).
WHERE = "{% if location_address %}\n\nWhere: {{ clinic_name }}, {{ location_address }}{% endif %}"
# How to move an appointment, mid-sentence in an email: a reply only when it reaches the clinic.
CALL_OR_REPLY_LOWER = (
    "{% if clinic_phone %}call {{ clinic_phone }}{% else %}contact {{ clinic_name }}{% endif %}"
    "{% if reply_to %} or reply to this email{% endif %}"
)
# A booking text links to the patient's page for the session like every text (SMS_PAGE), as its details:
# within two GSM-7 segments with a link of about 80 characters and the first text's opt-out hint.
SMS_PAGE_LINK = "{% if page_url %} Details: {{ page_url }}{% endif %}"

PROMPTS: dict[str, dict[str, str]] = {
    "followup_open": {
        "subject": "Time to book your next session",
        "email": (
            "Dear {{ first_name }},\n\nYour next mesotherapy session can now be booked: between "
            "{{ next_window_start }} and {{ next_window_end }}. " + CALL_OR_REPLY + " to choose a time." + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: your next session is due between {{ next_window_start_short }} and "
            "{{ next_window_end_short }}. " + SMS_CALL_SENTENCE + " to book." + SMS_PAGE
        ),
    },
    "followup_closing": {
        "subject": "Your next session is due by {{ next_window_end }}",
        "email": (
            "Dear {{ first_name }},\n\nTo keep your course on track, your next session should take place by "
            "{{ next_window_end }}. " + CALL_OR_REPLY + " to book." + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: to keep your course on track, please book your next session by "
            "{{ next_window_end_short }}. " + SMS_CALL_SENTENCE + "." + SMS_PAGE
        ),
    },
    "maintenance_due": {
        "subject": "Time for your maintenance session",
        "email": (
            "Dear {{ first_name }},\n\nIt is time for a maintenance session to keep your results: book between "
            "{{ next_window_start }} and {{ next_window_end }} {% if clinic_phone %}by calling {{ clinic_phone }}"
            "{% else %}with {{ clinic_name }}{% endif %}{% if reply_to %} or by replying to this email{% endif %}."
            + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: time for your maintenance session, between {{ next_window_start_short }} and "
            "{{ next_window_end_short }}. " + SMS_CALL_SENTENCE + " to book." + SMS_PAGE
        ),
    },
    "maintenance_closing": {
        "subject": "Your maintenance session is due by {{ next_window_end }}",
        "email": (
            "Dear {{ first_name }},\n\nYour maintenance window closes on {{ next_window_end }}. A session "
            "before then keeps your results at their best; after it, the effect starts to fade. "
            + CALL_OR_REPLY
            + " to book."
            + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: your maintenance session is due by {{ next_window_end_short }}. "
            + SMS_CALL_SENTENCE
            + " to book."
            + SMS_PAGE
        ),
    },
    # A day before the appointment. The text asks for a reply the inbound SMS webhook understands (C or
    # CONFIRM, R or REBOOK): never "reply CANCEL", which carriers take for an opt-out.
    "appointment_reminder": {
        "subject": "Reminder: your appointment on {{ session_date }}",
        "email": (
            "Dear {{ first_name }},\n\nThis is a reminder of your appointment at {{ clinic_name }} on "
            "{{ session_date }}." + WHERE + "\n\nPlease come without makeup if you can. "
            "{% if reply_to %}Reply to this email to confirm you are coming, or to ask for another time."
            "{% else %}If you need another time, {% if clinic_phone %}call {{ clinic_phone }}{% else %}contact "
            "{{ clinic_name }}{% endif %}.{% endif %}" + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: reminder of your appointment on {{ session_date_short }}. Reply C to confirm or R "
            "to rebook." + SMS_PAGE_LINK
        ),
    },
    # Booking notices (aftercare.booking_notices): a few minutes after the change, one for however many
    # changes were made meanwhile. A change names the time the patient knew and the new one; a cancellation
    # the time the patient knew.
    "booking_confirmation": {
        "subject": "Your appointment on {{ session_date }} is booked",
        "email": (
            "Dear {{ first_name }},\n\nYour appointment at {{ clinic_name }} is booked for {{ session_date }}."
            + WHERE
            + "\n\nPlease come without makeup if you can. To change the time, "
            + CALL_OR_REPLY_LOWER
            + "."
            + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: your appointment is booked for {{ session_date_short }}. To change it "
            + SMS_CALL
            + "."
            + SMS_PAGE_LINK
        ),
    },
    "booking_change": {
        "subject": "Your appointment has moved to {{ session_date }}",
        "email": (
            "Dear {{ first_name }},\n\nYour appointment at {{ clinic_name }} has moved"
            "{% if previous_session_date %} from {{ previous_session_date }}{% endif %} to {{ session_date }}."
            + WHERE
            + "\n\nIf the new time does not suit you, "
            + CALL_OR_REPLY_LOWER
            + "."
            + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: your appointment{% if previous_session_date_short %} on "
            "{{ previous_session_date_short }}{% endif %} has moved to {{ session_date_short }}. To change it "
            + SMS_CALL
            + "."
            + SMS_PAGE_LINK
        ),
    },
    "booking_cancellation": {
        "subject": "Your appointment on {{ session_date }} is cancelled",
        "email": (
            "Dear {{ first_name }},\n\nYour appointment at {{ clinic_name }} on {{ session_date }} is cancelled. "
            "To book another time, " + CALL_OR_REPLY_LOWER + "." + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: your appointment on {{ session_date_short }} is cancelled. To rebook "
            + SMS_CALL
            + "."
            + SMS_PAGE_LINK
        ),
    },
    "red_flag_alert": {
        "subject": "Red flag: {{ first_name }} {{ last_name }} reported {{ red_flag_reasons }}",
        "email": (
            "A side-effect report for {{ first_name }} {{ last_name }}{% if session_date %} (session on "
            "{{ session_date }}{% if practitioner_name %} with {{ practitioner_name }}{% endif %}){% endif %} needs "
            "a clinician's review today: {{ red_flag_reasons }}.\n\n"
            "Reported symptoms: {{ symptoms }} ({{ severity }}), since {{ onset_on }}.\n"
            "Notes: {{ notes|default:'none' }}\n"
            "Patient's phone: {{ patient_phone|default:'none on file' }}\n\n"
            "{{ patient_reply }}\n\n"
            "Open the report: {{ report_url }}\n"
            "Resolve it there once the patient has been seen or called.\n\n"
            "This alert went to {{ alert_recipients }}."
        ),
        "sms": "Red flag for {{ first_name }} {{ last_name }}: {{ red_flag_reasons }}. {{ report_url }}",
    },
    # To the patient who reported a red flag, at once and at any hour. The SMS
    # stays within two GSM-7 segments (306 characters) in its longest form.
    "red_flag_reply": {
        "subject": "We have your report: what to do now",
        "email": (
            "Dear {{ first_name }},\n\n"
            "Thank you for telling us how your skin is. What you describe needs a closer look, so we have "
            "passed your report to your practitioner at {{ clinic_name }}, and we will contact you.\n\n"
            "Until we have spoken:\n"
            "- Leave the treated area alone: do not touch, rub, massage or pick it.\n"
            "- Keep it clean with lukewarm water and a mild, fragrance-free cleanser, and pat it dry.\n"
            "- Put no makeup, active skincare (retinol, acids, vitamin C) or new products on it.\n"
            "- Keep away from heat, the sun and strenuous exercise.\n\n"
            "If it gets worse, or you are worried, do not wait for us: call {{ clinic_phone }} now."
            "{% if severe %}\n\nIf you have difficulty breathing, swelling of your lips, tongue or throat, a high "
            "fever, or you feel very unwell, call {{ emergency_number }} for emergency services straight away."
            "{% endif %}" + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: thank you. Your practitioner has your report and will contact you. Until then: "
            "hands off the area, no makeup, products, heat or sun. Worse or worried? " + SMS_CALL_SENTENCE + " now."
            "{% if severe %} Trouble breathing, swollen lips or throat, or very unwell: call {{ emergency_number }}."
            "{% endif %}"
        ),
    },
}

# Answers to a patient's text (aftercare.inbox), by SMS only: a text is answered by text, whatever channel the
# patient prefers. They name no patient (a phone may be shared) and fit two GSM-7 segments with a long
# location name.
SMS_REPLIES: dict[str, str] = {
    "confirm_reply": (
        "{{ clinic_name }}: thank you, your appointment on {{ session_date }} is confirmed. To change it, "
        "{% if clinic_phone %}call {{ clinic_phone }} or {% endif %}reply R."
    ),
    "opt_in_reply": (
        "{{ clinic_name }}: you will get texts about your appointments and aftercare again. "
        "Reply STOP to stop them, HELP for help."
    ),
    "help_reply": (
        "{{ clinic_name }}: texts about your appointments and aftercare. Reply C to confirm your next "
        "appointment, R to ask to rebook, STOP to stop these texts, START to get them again."
        "{% if clinic_phone %} Questions? Call {{ clinic_phone }}.{% endif %}"
    ),
}
