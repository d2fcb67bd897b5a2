"""The default facial-mesotherapy plan in Spanish: the second language, proving the mechanism.

Loaded by migration 0013 as templates with language "es" beside the English
ones (aftercare.default_plan), for patients whose language is Spanish. The
texts of every step (its SMS, and its email, whose words the patient's page
shows), the SMS of the follow-up prompts, and the red-flag reply. A message
with no Spanish template falls back to English (aftercare.rendering).

The wording addresses the patient as "tú", as clinics in Spain do in their
messages. Accents outside the SMS alphabet (á, í, ó, ú) are folded by the
outbox when a text is written (aftercare.sms_text), so a text keeps its two
segments; the email and the page keep them.
"""

from __future__ import annotations

from aftercare.default_plan import SIGNATURE

CALL_US = "{% if clinic_phone %}llámanos al {{ clinic_phone }}{% else %}contacta con {{ clinic_name }}{% endif %}"
# A text opens with the clinic's name, so without a number it says "us".
SMS_CALL = "{% if clinic_phone %}llama al {{ clinic_phone }}{% else %}contáctanos{% endif %}"
SMS_CALL_SENTENCE = "{% if clinic_phone %}Llama al {{ clinic_phone }}{% else %}Contáctanos{% endif %}"
SMS_PAGE = "{% if page_url %} Cuidados: {{ page_url }}{% endif %}"

RED_FLAGS = (
    "Contacta con nosotros enseguida{% if clinic_phone %} en el {{ clinic_phone }}{% endif %} si notas algo de "
    "esto: dolor persistente, hinchazón intensa, hinchazón que dura más de unos días (hinchazón prolongada), picor, "
    "una erupción, moratones que no desaparecen, o signos de infección como pus o fiebre."
)

BOOKING = (
    "{% if next_session %}Tu próxima sesión está reservada para el {{ next_session }}."
    "{% elif sessions_remaining and next_window_start %}Te quedan {{ sessions_remaining }} "
    "sesi{{ sessions_remaining|pluralize:'ón,ones' }} del tratamiento. Reserva la próxima entre el "
    "{{ next_window_start }} y el {{ next_window_end }} (las sesiones se espacian de 14 a 28 días)"
    "{% if clinic_phone %} llamando al {{ clinic_phone }}{% if reply_to %} o respondiendo a este correo{% endif %}"
    "{% elif reply_to %} respondiendo a este correo{% endif %}.{% endif %}"
)

SMS_BOOKING = (
    "{% if next_session %}Próxima sesión: {{ next_session_short }}."
    "{% elif sessions_remaining and next_window_start %}Reserva la próxima sesión del "
    "{{ next_window_start_short }} al {{ next_window_end_short }}: " + SMS_CALL + ".{% endif %}"
)

# By step code: the email's subject and body, and the SMS.
STEPS: dict[str, dict[str, str]] = {
    "immediate-first-48-hours": {
        "email_subject": "Cómo cuidar tu piel después de la sesión de mesoterapia",
        "email": (
            "Hola, {{ first_name }}:\n\n"
            "Gracias por venir el {{ session_date }}. Así debes cuidar tu piel; todos los plazos se cuentan "
            "desde la sesión.\n\n"
            "Lo normal: enrojecimiento, hinchazón, pequeños puntos de sangrado y granitos donde entraron las "
            "agujas. Desaparecen en 1–2 días. Puede salir un moratón; se va en una semana.\n\n"
            "No toques la zona: no la toques, frotes, masajees ni pellizques en los primeros días, aunque "
            "pique un poco o la notes con bultitos.\n\n"
            "Cuidado suave: lávate con un limpiador suave, sin perfume y de pH equilibrado y agua tibia, y "
            "sécate a toques (sin frotar). Un gel refrescante o aloe vera calma la piel. Dúchate con agua "
            "fresca, no caliente.\n\n"
            "Productos que debes dejar, contando desde la sesión:\n"
            "- Sin maquillaje durante al menos 24 horas.\n"
            "- Sin exfoliantes, retinoides ni productos con alcohol durante un mínimo de 24 horas; los más "
            "fuertes, más tiempo, como sigue.\n"
            "- Sin activos como el retinol y los ácidos AHA/BHA durante 3–5 días.\n"
            "- Sin sérums de vitamina C ni exfoliantes durante 5–7 días.\n\n"
            "En las primeras 24–48 horas:\n"
            "- Nada de calor durante 48–72 horas: ni sauna, ni baño de vapor, ni yoga caliente, ni duchas "
            "calientes.\n"
            "- Nada de ejercicio intenso durante 24–48 horas.\n"
            "- Nada de alcohol ni tabaco los primeros días: los dos retrasan la curación.\n"
            "- Bebe mucha agua y usa un sérum de ácido hialurónico, una crema con ceramidas o una hidratante "
            "no comedogénica para mantener la piel hidratada.\n\n"
            "Sol: usa cada día un protector solar mineral de amplio espectro, SPF 30+ (óxido de zinc o "
            "dióxido de titanio), y vuelve a aplicarlo cada 2–3 horas al aire libre. Evita el sol entre las "
            "10:00 y las 16:00 durante 1 semana. Añade un sombrero y busca la sombra, y usa protector también "
            "en interiores junto a ventanas y en días nublados.\n\n"
            "Nada de peelings químicos, láser ni microdermoabrasión durante 14 días después de la sesión.\n\n"
            + RED_FLAGS
            + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: rojez e hinchazón se van en 1-2 días. No toques la zona; sin maquillaje "
            "24 h ni calor 48-72 h. Dolor, erupción, pus, fiebre: " + SMS_CALL + "." + SMS_PAGE
        ),
    },
    "day-1-check-in": {
        "email_subject": "¿Cómo está tu piel?",
        "email": (
            "Hola, {{ first_name }}:\n\n"
            "Esperamos que tu piel se esté calmando después de la sesión del {{ session_date }}. Es normal "
            "algo de enrojecimiento o hinchazón durante los primeros 1–2 días.\n\n"
            "Cuéntanos cómo estás: {% if reply_to %}responde a este correo o {% endif %}"
            + CALL_US
            + " si tienes dolor, "
            "hinchazón, picor, una erupción, moratones, pus o fiebre. Registramos cada aviso y un profesional "
            "revisa el mismo día cualquier cosa fuera de lo normal.\n\n"
            "Hasta que la zona se calme, no la toques: nada de tocar, frotar, masajear ni pellizcar.\n\n"
            + RED_FLAGS
            + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: ¿cómo está tu piel tras la sesión?{% if page_url %} Cuéntanos: {{ page_url }}"
            "{% endif %} Dolor o hinchazón fuerte, erupción, pus o fiebre: " + SMS_CALL + "."
        ),
    },
    "day-3-early-recovery": {
        "email_subject": "Días 3 a 7: recuperación temprana",
        "email": (
            "Hola, {{ first_name }}:\n\n"
            "Los días 3 a 7 son de recuperación temprana. Puedes notar la piel seca o tirante: sigue bebiendo "
            "agua e hidrátala mañana y noche con un sérum de ácido hialurónico, una crema con ceramidas o una "
            "hidratante no comedogénica. Sigue limpiándola con suavidad y agua tibia, y deja que las pieles "
            "secas se caigan solas.\n\n"
            "Mantén los activos en pausa un poco más: el retinol y los ácidos AHA/BHA durante 3–5 días desde "
            "la sesión (no antes del día 5), los sérums de vitamina C y los exfoliantes durante 5–7 días (no "
            "antes del día 7).\n\n"
            "Sigue usando SPF 30+ mineral cada día y evita el sol de 10:00 a 16:00 hasta que pase una semana."
            + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: los días 3-7 son de recuperación; la sequedad o tirantez es normal: hidrata la piel."
            "{% if page_url %} ¿Cómo está tu piel? Cuéntanos: {{ page_url }}{% endif %}"
        ),
    },
    "day-7-sun-and-actives": {
        "email_subject": "Una semana después: vuelve a tu rutina",
        "email": (
            "Hola, {{ first_name }}:\n\n"
            "Ha pasado una semana desde tu sesión del {{ session_date }}. Los moratones ya deberían haber "
            "desaparecido; si no es así, " + CALL_US + ".\n\n"
            "Ya puedes volver a tus productos activos de uno en uno: primero el retinol y los ácidos AHA/BHA, "
            "después los sérums de vitamina C y los exfoliantes suaves.\n\n"
            "La semana sin sol de 10:00 a 16:00 ha terminado, pero mantén tu SPF 30+ mineral a diario, con "
            "sombrero y sombra los días de sol: la exposición al sol, el tabaco y una mala rutina de cuidado "
            "acortan lo que duran los resultados.\n\n"
            "{% if first_session %}Los primeros resultados suelen verse después de 1–2 semanas.{% else %}Cada "
            "sesión suma a las anteriores, y tu piel sigue mejorando en las próximas semanas.{% endif %}" + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: una semana después, los moratones deberían haberse ido (si no, " + SMS_CALL + "). "
            "Ya puedes volver al retinol, los ácidos y la vitamina C." + SMS_PAGE
        ),
    },
    "day-14-first-results": {
        "email_subject": "Dos semanas después{% if first_session %}: tus primeros resultados{% endif %}",
        "email": (
            "Hola, {{ first_name }}:\n\n"
            "{% if first_session %}Dos semanas después de tu primera sesión deberías ver los primeros "
            "resultados: aparecen después de 1–2 semanas y siguen mejorando, con el resultado óptimo después "
            "de 4–6 semanas, mientras se forma colágeno nuevo.{% else %}Dos semanas después de esta sesión, su "
            "efecto se suma al de las anteriores; tu piel sigue mejorando durante 4–6 semanas después de cada "
            "sesión mientras se forma colágeno nuevo.{% endif %}\n\n"
            "Los peelings químicos, el láser y la microdermoabrasión vuelven a estar permitidos ahora que han "
            "pasado 14 días desde tu sesión.\n\n" + BOOKING + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: dos semanas después{% if first_session %} ya se ven resultados{% endif %}; ya puedes "
            "hacerte peelings y láser. " + SMS_BOOKING + SMS_PAGE
        ),
    },
    "day-21-collagen": {
        "email_subject": "Semanas 3 a 6: tu piel sigue mejorando",
        "email": (
            "Hola, {{ first_name }}:\n\n"
            "Tres semanas después de tu sesión del {{ session_date }}, tu piel entra en su fase más activa: en "
            "las semanas 3 a 6 la producción de colágeno alcanza su máximo y la piel sigue mejorando, un poco "
            "más firme y mejor hidratada cada semana. El resultado óptimo de una sesión se ve después de 4–6 "
            "semanas.\n\n"
            "Ayúdala: bebe agua, hidrátala cada día y mantén tu SPF 30+ mineral, con sombrero y sombra al aire "
            "libre, y protector incluso en interiores junto a ventanas y en días nublados. El tabaco, el sol y "
            "una mala rutina de cuidado acortan los resultados." + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: en las semanas 3-6 el colágeno alcanza su máximo y tu piel sigue mejorando. Sigue "
            "con agua, hidratante y SPF 30+ a diario." + SMS_PAGE
        ),
    },
    "week-6-full-results": {
        "email_subject": "Tus resultados completos, y cómo conservarlos",
        "email": (
            "Hola, {{ first_name }}:\n\n"
            "Seis semanas después de tu última sesión ves el efecto completo del tratamiento. Los resultados "
            "suelen durar 6–12 meses.\n\n"
            "Para conservarlos, te recomendamos una sesión de mantenimiento cada 3–6 meses (algunos planes de "
            "efecto más duradero solo la necesitan cada 6–12 meses). El tabaco, el sol y una mala rutina de "
            "cuidado acortan los resultados; la piel seca o dañada por el sol puede necesitar más sesiones. Te "
            "avisaremos cuando toque el mantenimiento.\n\n"
            "Sigue con tu SPF 30+ mineral y tu hidratante cada día." + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: a las seis semanas ves el resultado completo, que dura 6-12 meses. Un mantenimiento "
            "cada 3-6 meses lo conserva; te avisaremos." + SMS_PAGE
        ),
    },
}

# SMS of the prompts, by kind.
PROMPT_SMS: dict[str, str] = {
    "followup_open": (
        "{{ clinic_name }}: tu próxima sesión es del {{ next_window_start_short }} al {{ next_window_end_short }}. "
        + SMS_CALL_SENTENCE
        + " para reservar."
        + SMS_PAGE
    ),
    "followup_closing": (
        "{{ clinic_name }}: reserva tu próxima sesión antes del {{ next_window_end_short }} para seguir con el "
        "tratamiento. " + SMS_CALL_SENTENCE + "." + SMS_PAGE
    ),
    "maintenance_due": (
        "{{ clinic_name }}: toca tu sesión de mantenimiento, del {{ next_window_start_short }} al "
        "{{ next_window_end_short }}. " + SMS_CALL_SENTENCE + " para reservar." + SMS_PAGE
    ),
    "maintenance_closing": (
        "{{ clinic_name }}: tu sesión de mantenimiento debe ser antes del {{ next_window_end_short }}. "
        + SMS_CALL_SENTENCE
        + " para reservar."
        + SMS_PAGE
    ),
}

RED_FLAG_REPLY = {
    "subject": "Hemos recibido tu aviso: qué hacer ahora",
    "email": (
        "Hola, {{ first_name }}:\n\n"
        "Gracias por contarnos cómo está tu piel. Lo que describes necesita una revisión, así que hemos pasado "
        "tu aviso a tu profesional de {{ clinic_name }} y nos pondremos en contacto contigo.\n\n"
        "Hasta que hablemos:\n"
        "- No toques la zona tratada: no la toques, frotes, masajees ni pellizques.\n"
        "- Mantenla limpia con agua tibia y un limpiador suave sin perfume, y sécala a toques.\n"
        "- No le pongas maquillaje, cosmética activa (retinol, ácidos, vitamina C) ni productos nuevos.\n"
        "- Evita el calor, el sol y el ejercicio intenso.\n\n"
        "Si empeora, o te preocupa, no esperes: llama ya al {{ clinic_phone }}."
        "{% if severe %}\n\nSi te cuesta respirar, se te hinchan los labios, la lengua o la garganta, tienes "
        "fiebre alta o te encuentras muy mal, llama al {{ emergency_number }} (emergencias) de inmediato."
        "{% endif %}" + SIGNATURE
    ),
    "sms": (
        "{{ clinic_name }}: gracias; avisamos a tu profesional y te llamamos. Mientras: no toques la zona, ni "
        "maquillaje, productos, calor o sol. ¿Empeora o te preocupa? " + SMS_CALL_SENTENCE + "."
        "{% if severe %} Si te cuesta respirar, se hinchan labios o garganta o estás muy mal: llama al "
        "{{ emergency_number }}.{% endif %}"
    ),
}

# How to change an appointment, in an email (reply when replies reach the clinic).
CHANGE_BY_EMAIL = (
    "{% if clinic_phone %}llama al {{ clinic_phone }}{% else %}contacta con {{ clinic_name }}{% endif %}"
    "{% if reply_to %} o responde a este correo{% endif %}"
)
WHERE = "{% if location_address %}\n\nDónde: {{ clinic_name }}, {{ location_address }}{% endif %}"
DETAILS = "{% if page_url %} Detalles: {{ page_url }}{% endif %}"

# Booking notices and the reminder, by kind: the email's subject and body, and the SMS.
BOOKING_PROMPTS: dict[str, dict[str, str]] = {
    "appointment_reminder": {
        "subject": "Recordatorio: tu cita del {{ session_date }}",
        "email": (
            "Hola, {{ first_name }}:\n\n"
            "Te recordamos tu cita en {{ clinic_name }} el {{ session_date }}." + WHERE + "\n\n"
            "Si puedes, ven sin maquillaje. {% if reply_to %}Responde a este correo para confirmar que vienes, o "
            "para pedir otra hora.{% else %}Si necesitas otra hora, " + CALL_US + ".{% endif %}" + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: te recordamos tu cita del {{ session_date_short }}. Responde C para confirmar o R "
            "para cambiarla." + DETAILS
        ),
    },
    "booking_confirmation": {
        "subject": "Tu cita del {{ session_date }} está reservada",
        "email": (
            "Hola, {{ first_name }}:\n\n"
            "Tu cita en {{ clinic_name }} está reservada para el {{ session_date }}." + WHERE + "\n\n"
            "Si puedes, ven sin maquillaje. Para cambiar la hora, " + CHANGE_BY_EMAIL + "." + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: tu cita está reservada para el {{ session_date_short }}. Para cambiarla "
            + SMS_CALL
            + "."
            + DETAILS
        ),
    },
    "booking_change": {
        "subject": "Tu cita ha cambiado al {{ session_date }}",
        "email": (
            "Hola, {{ first_name }}:\n\n"
            "Tu cita en {{ clinic_name }} ha cambiado{% if previous_session_date %} del {{ previous_session_date }}"
            "{% endif %} al {{ session_date }}." + WHERE + "\n\n"
            "Si la nueva hora no te va bien, " + CHANGE_BY_EMAIL + "." + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: tu cita{% if previous_session_date_short %} del {{ previous_session_date_short }}"
            "{% endif %} ha cambiado al {{ session_date_short }}. Para cambiarla " + SMS_CALL + "." + DETAILS
        ),
    },
    "booking_cancellation": {
        "subject": "Tu cita del {{ session_date }} está cancelada",
        "email": (
            "Hola, {{ first_name }}:\n\n"
            "Tu cita en {{ clinic_name }} del {{ session_date }} está cancelada. Para reservar otra hora, "
            + CHANGE_BY_EMAIL
            + "."
            + SIGNATURE
        ),
        "sms": (
            "{{ clinic_name }}: tu cita del {{ session_date_short }} está cancelada. Para reservar otra "
            + SMS_CALL
            + "."
            + DETAILS
        ),
    },
}

# Answers to a patient's own text (aftercare.inbox), by kind.
SMS_REPLIES: dict[str, str] = {
    "confirm_reply": (
        "{{ clinic_name }}: gracias, tu cita del {{ session_date }} está confirmada. Para cambiarla, "
        "{% if clinic_phone %}llama al {{ clinic_phone }} o {% endif %}responde R."
    ),
    "opt_in_reply": (
        "{{ clinic_name }}: volverás a recibir SMS sobre tus citas y tus cuidados. Responde STOP para dejar de "
        "recibirlos, HELP para ayuda."
    ),
    "help_reply": (
        "{{ clinic_name }}: SMS sobre tus citas y tus cuidados. Responde C para confirmar tu próxima cita, R para "
        "cambiarla, STOP para dejar de recibir SMS, START para volver a recibirlos."
        "{% if clinic_phone %} ¿Dudas? Llama al {{ clinic_phone }}.{% endif %}"
    ),
}

# The emails of the follow-up prompts, by kind: subject and body (their SMS are PROMPT_SMS).
CALL_OR_REPLY = (
    "{% if clinic_phone %}Llama al {{ clinic_phone }}{% else %}Contacta con {{ clinic_name }}{% endif %}"
    "{% if reply_to %} o responde a este correo{% endif %}"
)
PROMPT_EMAILS: dict[str, dict[str, str]] = {
    "followup_open": {
        "subject": "Ya puedes reservar tu próxima sesión",
        "email": (
            "Hola, {{ first_name }}:\n\n"
            "Ya puedes reservar tu próxima sesión de mesoterapia: entre el {{ next_window_start }} y el "
            "{{ next_window_end }}. " + CALL_OR_REPLY + " para elegir la hora." + SIGNATURE
        ),
    },
    "followup_closing": {
        "subject": "Tu próxima sesión debe ser antes del {{ next_window_end }}",
        "email": (
            "Hola, {{ first_name }}:\n\n"
            "Para seguir con tu tratamiento, tu próxima sesión debe ser antes del {{ next_window_end }}. "
            + CALL_OR_REPLY
            + " para reservar."
            + SIGNATURE
        ),
    },
    "maintenance_due": {
        "subject": "Ya toca tu sesión de mantenimiento",
        "email": (
            "Hola, {{ first_name }}:\n\n"
            "Ya toca una sesión de mantenimiento para conservar tus resultados: resérvala entre el "
            "{{ next_window_start }} y el {{ next_window_end }}. " + CALL_OR_REPLY + " para elegir la hora." + SIGNATURE
        ),
    },
    "maintenance_closing": {
        "subject": "Tu sesión de mantenimiento debe ser antes del {{ next_window_end }}",
        "email": (
            "Hola, {{ first_name }}:\n\n"
            "Tu plazo de mantenimiento termina el {{ next_window_end }}. Una sesión antes de esa fecha mantiene tus "
            "resultados en su mejor punto; después, el efecto empieza a desaparecer. "
            + CALL_OR_REPLY
            + " para reservar."
            + SIGNATURE
        ),
    },
}
