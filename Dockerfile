# One image for web, worker and beat (see docker-compose.yml).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 10001 clinic

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# collectstatic imports settings, which insist on real values; these
# placeholders exist only for this build step.
RUN DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput

# Patients' photos (PRIVATE_FILES_ROOT): a volume mounted here, owned by the app's user.
RUN mkdir -p /srv/private && chown clinic:clinic /srv/private

USER clinic
EXPOSE 8000
CMD ["gunicorn", "clinic.wsgi:application"]
