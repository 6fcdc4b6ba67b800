# The Flowline processes (recorder, strategy worker); the database is a separate service.
# .dockerignore keeps .env, var/ (database, spool), .venv and .git out of the build context.
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
# an unprivileged user owns nothing but its spool folder
RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin flowline \
    && mkdir -p /spool && chown flowline: /spool && chmod 0700 /spool
COPY . .
USER flowline
ENV SPOOL_DIR=/spool
ENTRYPOINT ["python", "main.py"]
