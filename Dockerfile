# newsmon in a container. Build and run (see README "Running as a service"):
#   docker build -t newsmon .
#   docker run -d --name newsmon -v newsmon-data:/data -p 127.0.0.1:8080:8080 \
#     -e SLACK_WEBHOOK_URL=... newsmon
# /data holds config.yaml, rules/ and state/ (the SQLite database); the image seeds it
# with the bundled example on first use of an empty volume.
FROM python:3.12-slim

RUN useradd --system --create-home --home-dir /data --shell /usr/sbin/nologin newsmon
WORKDIR /opt/newsmon
COPY pyproject.toml README.md ./
COPY monitor ./monitor
RUN pip install --no-cache-dir . && rm -rf /root/.cache

COPY --chown=newsmon:newsmon config.yaml /data/config.yaml
COPY --chown=newsmon:newsmon rules /data/rules
RUN mkdir -p /data/state && chown newsmon:newsmon /data/state

USER newsmon
WORKDIR /data
VOLUME /data
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=60s --timeout=5s --start-period=30s \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"]
ENTRYPOINT ["newsmon", "--config", "/data/config.yaml"]
CMD ["run", "--http", "0.0.0.0:8080"]
