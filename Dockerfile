# The service's image: worker, codec server and starter (one image, three commands).
# Slim, non-root, dependencies only from the hash-checked lock file, bytecode compiled at
# build time so neither the interpreter nor the workflow sandbox compiles at run time.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
# --require-hashes: every file pip installs must match a hash in the lock (runtime deps only).
RUN /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements.lock \
    && /opt/venv/bin/pip uninstall -y pip setuptools \
    && /opt/venv/bin/python -m compileall -q -j 0 /opt/venv/lib

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="hasa" \
      org.opencontainers.image.description="IND repeat asylum application on Temporal: worker, codec server, starter"
# Bytecode is compiled below and the app is read-only for the service user.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HASA_DATA_DIR=/data
# The base image's own pip, setuptools and wheel are build tools the service never uses at
# run time (and the bundled setuptools has known vulnerabilities): removed.
RUN python -m pip uninstall --yes --quiet setuptools wheel pip
RUN groupadd --system --gid 10001 hasa \
    && useradd --system --uid 10001 --gid hasa --home-dir /app --shell /usr/sbin/nologin hasa \
    && mkdir -p /data && chown hasa:hasa /data && chmod 0700 /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY activities ./activities
COPY domain ./domain
COPY infra ./infra
COPY intake ./intake
COPY reports ./reports
COPY workflows ./workflows
COPY examples ./examples
COPY worker.py starter.py pyproject.toml ./
RUN python -m compileall -q -j 0 /app
USER 10001:10001
VOLUME ["/data"]
EXPOSE 9464 8081
CMD ["python", "worker.py"]
