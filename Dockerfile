# Production image: gunicorn serving cobranca.wsgi, static files by whitenoise, non-root user.
# The same image runs the django-q2 worker (`python manage.py qcluster`), see docker-compose.yml and Procfile.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DATA_DIR=/app/var \
    LOG_FILE=/app/logs/app.log

WORKDIR /app

# tesseract-ocr(-por), poppler-utils and the fonts: the worker reads Pix receipts (docs/receipts.md).
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 \
      tesseract-ocr tesseract-ocr-por poppler-utils fonts-dejavu-core fonts-liberation \
    && rm -rf /var/lib/apt/lists/*

COPY requirements.txt .
# PIP_EXTRA_INDEX_URL may point at a CPU-only torch wheel index to keep the image small (see README).
ARG PIP_EXTRA_INDEX_URL=""
RUN pip install -r requirements.txt

COPY . .

RUN useradd --create-home --uid 1000 cobranca \
    && mkdir -p /app/var /app/logs /app/staticfiles \
    && DEBUG=false SECRET_KEY=build-only-secret-key-not-used-at-runtime-0123456789 \
       WAHA_WEBHOOK_HMAC_KEY=build-only python manage.py collectstatic --noinput \
    && chown -R cobranca:cobranca /app

USER cobranca
EXPOSE 8000

CMD ["sh", "-c", "gunicorn cobranca.wsgi:application --bind 0.0.0.0:${PORT:-8000} --workers ${WEB_CONCURRENCY:-3} --threads 4 --access-logfile - --timeout 60"]
