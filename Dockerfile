# The support desk as a container image. Usually run with compose.yaml: `docker compose up -d`
# (README, "Running in Docker"). The database lives on the volume at /data, never in the image.
FROM python:3.12-slim

# No .pyc files written at run time (the code is read-only to the desk's user); logs unbuffered,
# so `docker compose logs` shows each line as it happens.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# The pinned requirements before the code, so a code change does not reinstall them. Wheels only:
# nothing is compiled, so no compiler or headers are installed, and none are left in the image.
COPY requirements.txt ./
RUN pip install --no-cache-dir --only-binary=:all: -r requirements.txt

# An unprivileged user that owns only /data; the code stays root's, so the desk cannot change it.
RUN useradd --system --user-group --uid 10001 --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin desk \
 && mkdir /data \
 && chown desk:desk /data

COPY . .

# The database and the automatic backups on the volume; compose.yaml sets the same.
ENV DATABASE_PATH=/data/support.db \
    BACKUP_DIR=/data/backups
VOLUME /data
USER desk

# Exec form: python is the container's main process and gets docker's SIGTERM itself, so the desk
# finishes the update at hand and the sends in flight and exits 0 (the rest stays queued in /data).
CMD ["python", "bot.py"]
