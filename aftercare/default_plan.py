"""The default facial-mesotherapy aftercare plan: what the patient is told, and when.

Loaded by a data migration; clinics edit it in the admin afterwards. The
wording is ours; the facts (every number) follow the product spec §1, and a
test checks that each one reaches the patient.

Templates use Django template syntax. Variables: first_name, session_date,
clinic_name, clinic_phone, sessions_remaining, next_window_start,
next_window_end, next_session.
"""

from __future__ import annotations

from datetime import time

SIGNATURE = "\n\n{{ clinic_name }} · {{ clinic_phone }}"

RED_FLAGS = (
    "Contact us straight away on {{ clinic_phone }} if you notice any of these: persistent pain, "
    "severe swelling, swelling that lasts beyond a few days (prolonged swelling), itching, a rash, "
    "bruising that does not fade, or signs of infection such as pus or a fever."
)

BOOKING = (
    "{% if next_session %}Your next session is booked for {{ next_session }}."
    "{% elif sessions_remaining %}You have {{ sessions_remaining }} session{{ sessions_remaining|pluralize }} "
    "left in your course. Please book the next one between {{ next_window_start }} and {{ next_window_end }} "
    "(sessions are spaced 14 to 28 days apart) by calling {{ clinic_phone }}.{% endif %}"
)

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
        "email_subject": "Caring for your skin after today's mesotherapy",
        "email": (
            "Dear {{ first_name }},\n\n"
            "Thank you for coming in on {{ session_date }}. Here is how to look after your skin.\n\n"
            "What is normal: redness, swelling, pinpoint bleeding and tiny bumps where the needles went in. "
            "They settle within 1–2 days. A bruise may appear; it fades within a week.\n\n"
            "For the first 24–48 hours:\n"
            "- No makeup for at least 24 hours.\n"
            "- No exfoliants, retinoids or alcohol-based products for 24 hours minimum.\n"
            "- No heat for 48–72 hours: no sauna, steam room, hot yoga or hot showers.\n"
            "- No strenuous exercise for 24–48 hours.\n"
            "- No alcohol and no smoking for the first days: both slow healing.\n"
            "- Drink plenty of water, and use a hyaluronic-acid serum, a ceramide cream or a "
            "non-comedogenic moisturiser to keep the skin hydrated.\n\n"
            "Sun: wear a broad-spectrum mineral sunscreen, SPF 30+ (zinc oxide or titanium dioxide), every "
            "day, and reapply every 2–3 hours when outdoors. Keep out of the sun between 10:00 and 16:00 "
            "for 1 week.\n\n"
            "No chemical peels, laser or microdermabrasion for 14 days after the session.\n\n" + RED_FLAGS + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: after today's mesotherapy, redness, swelling, pinpoint bleeding and tiny bumps "
            "are normal for 1-2 days; bruising fades within a week. No makeup for 24 h, no exfoliants, retinoids "
            "or alcohol-based products for 24 h, no sauna, steam, hot yoga or hot showers for 48-72 h, no "
            "strenuous exercise for 24-48 h, no alcohol or smoking for the first days. Drink water, moisturise, "
            "use mineral SPF 30+ daily (reapply every 2-3 h outdoors), avoid sun 10:00-16:00 for 1 week. "
            "No peels, laser or microdermabrasion for 14 days. Persistent pain, severe swelling, itching, rash, "
            "pus or fever: call {{ clinic_phone }}."
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
        "email_subject": "How is your skin today?",
        "email": (
            "Dear {{ first_name }},\n\n"
            "It is a day since your session on {{ session_date }}. Some redness or swelling today is expected "
            "and usually gone within 1–2 days.\n\n"
            "Please tell us how you are: reply to this email or call {{ clinic_phone }} if you have any pain, "
            "swelling, itching, a rash, bruising, pus or a fever. We record every report and a practitioner "
            "reviews anything unusual the same day.\n\n" + RED_FLAGS + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: how is your skin a day after your session? Some redness or swelling is normal "
            "for 1-2 days. Any pain, itching, rash, pus, fever or severe swelling: call {{ clinic_phone }}."
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
        "email_subject": "Day 3: early recovery",
        "email": (
            "Dear {{ first_name }},\n\n"
            "Days 3 to 7 are early recovery. Your skin may feel dry or tight: keep drinking water and "
            "moisturise morning and evening with a hyaluronic-acid serum, a ceramide cream or a "
            "non-comedogenic moisturiser.\n\n"
            "Keep active ingredients paused a little longer: retinol and AHA/BHA acids for 3–5 days after the "
            "session (so not before day 5), vitamin C serums and exfoliants for 5–7 days (not before day 7).\n\n"
            "Keep wearing mineral SPF 30+ every day and stay out of the midday sun." + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: day 3. Dryness or tightness is normal: moisturise and drink water. Keep retinol "
            "and AHA/BHA paused until day 5, vitamin C and exfoliants until day 7. SPF 30+ daily."
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
        "email_subject": "One week on: back to your routine",
        "email": (
            "Dear {{ first_name }},\n\n"
            "A week has passed since your session. Any bruising should now have faded; if it has not, "
            "please call {{ clinic_phone }}.\n\n"
            "You can now bring back your active products one at a time: retinol and AHA/BHA first, then "
            "vitamin C serums and gentle exfoliants.\n\n"
            "The week of avoiding the 10:00–16:00 sun is over, but keep your daily mineral SPF 30+: sun "
            "exposure, smoking and poor skincare shorten how long results last.\n\n"
            "First results usually show after 1–2 weeks." + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: one week on. Bruising should have faded (if not, call {{ clinic_phone }}). "
            "You can reintroduce retinol, AHA/BHA, then vitamin C and exfoliants. Keep SPF 30+ daily."
        ),
    },
    {
        "order": 5,
        "code": "day-14-first-results",
        "name": "Day 14: first results and the next session",
        "offset_unit": "days",
        "offset_value": 14,
        "local_send_time": time(10, 0),
        "kind": "aftercare",
        "condition": "always",
        "prompts_booking": True,
        "email_subject": "Two weeks on: your first results",
        "email": (
            "Dear {{ first_name }},\n\n"
            "Two weeks after your session you should be seeing the first results: first results appear "
            "after 1–2 weeks and keep improving, with the optimal result after 4–6 weeks as new collagen "
            "builds up (weeks 3 to 6).\n\n"
            "From today, 14 days after the session, chemical peels, laser and microdermabrasion are allowed "
            "again.\n\n" + BOOKING + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: two weeks on, first results show now and keep improving for 4-6 weeks. Peels, "
            "laser and microdermabrasion are allowed again. " + BOOKING
        ),
    },
    {
        "order": 6,
        "code": "week-6-full-results",
        "name": "Week 6 after the final session: full results and maintenance",
        "offset_unit": "days",
        "offset_value": 42,
        "local_send_time": time(10, 0),
        "kind": "aftercare",
        "condition": "final_session",
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
            "{{ clinic_name }}: six weeks on, you are seeing your full results, which last 6-12 months. "
            "Plan a maintenance session every 3-6 months; we will remind you."
        ),
    },
]

# Messages outside the plan: prompts and reminders, one template each.
PROMPTS: dict[str, dict[str, str]] = {
    "followup_open": {
        "subject": "Time to book your next session",
        "email": (
            "Dear {{ first_name }},\n\nYour next mesotherapy session can now be booked: between "
            "{{ next_window_start }} and {{ next_window_end }}. Call {{ clinic_phone }} to choose a time." + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: your next mesotherapy session is due between {{ next_window_start }} and "
            "{{ next_window_end }}. Call {{ clinic_phone }} to book."
        ),
    },
    "followup_closing": {
        "subject": "Your next session is due by {{ next_window_end }}",
        "email": (
            "Dear {{ first_name }},\n\nTo keep your course on track, your next session should take place by "
            "{{ next_window_end }}. Call {{ clinic_phone }} to book." + SIGNATURE
        ),
        "sms": "{{ clinic_name }}: your next session is due by {{ next_window_end }}. Call {{ clinic_phone }} to book.",
    },
    "maintenance_due": {
        "subject": "Time for your maintenance session",
        "email": (
            "Dear {{ first_name }},\n\nIt is time for a maintenance session to keep your results: book between "
            "{{ next_window_start }} and {{ next_window_end }} by calling {{ clinic_phone }}." + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: time for your maintenance session, between {{ next_window_start }} and "
            "{{ next_window_end }}. Call {{ clinic_phone }}."
        ),
    },
    "appointment_reminder": {
        "subject": "Reminder: your appointment on {{ session_date }}",
        "email": (
            "Dear {{ first_name }},\n\nThis is a reminder of your appointment on {{ session_date }}. "
            "Please come without makeup if you can. To move it, call {{ clinic_phone }}." + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: reminder of your appointment on {{ session_date }}. To move it call {{ clinic_phone }}."
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
            "{{ clinic_name }}: thank you. Your practitioner has your report; we will contact you. Until then "
            "leave the area alone: no touching, makeup, products, heat or sun. Worse or worried? Call "
            "{{ clinic_phone }} now.{% if severe %} Trouble breathing, swollen lips or throat, or very unwell: "
            "call {{ emergency_number }}.{% endif %}"
        ),
    },
}
