# The one leadscore image: worker, tools and trainer (`leadscore COMMAND`), used by
# docker-compose.yml and deploy/k8s. Build: docker build -t leadscore:0.1.0 .
#
# Not built on the development machines (they have a Docker client but no engine); the
# compose file and the manifests that use it are checked by `go run ./deploy/validate`.

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
# libgomp1: LightGBM's OpenMP runtime (the slim image does not have it).
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*

# --- build: the project and its dependencies in a virtual environment ---------------------
FROM base AS build
# gcc: the C extensions (models/_treeshap.c, the explanations' per-row work;
# streams/core/_record.c, the lead record codec; models/_columns.c, the feature rows;
# models/_state.c, the fold of an event into a lead's state), compiled
# here only; the runtime stage gets the built modules, not the compiler.
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/leadscore
ENV PATH=/opt/leadscore/bin:$PATH
WORKDIR /src
# Dependencies first, from pyproject.toml alone (empty packages stand in for the code), so a
# code change rebuilds only the last layer instead of re-downloading LightGBM, numpy, ...
COPY pyproject.toml setup.py README.md ./
RUN mkdir streams models schemas \
 && touch streams/__init__.py models/__init__.py schemas/__init__.py \
 && pip install . \
 && pip uninstall -y leadscore
COPY streams streams
COPY models models
COPY schemas schemas
RUN pip install --no-deps . && leadscore --help >/dev/null \
 && python -c "import models._treeshap, streams.core._record, models._columns, models._state"  # C built
# (both are optional in setup.py: without them the image would work, in Python, more slowly)

# --- runtime ---------------------------------------------------------------------------------
FROM base AS runtime
COPY --from=build /opt/leadscore /opt/leadscore
ENV PATH=/opt/leadscore/bin:$PATH \
    LEADSCORE_WEB_HOST=0.0.0.0 \
    LEADSCORE_STATE_DIR=/data \
    LEADSCORE_MODEL_DIR=/model
# A fixed numeric uid/gid (Kubernetes runAsNonRoot checks it; the manifests use the same).
# /data (RocksDB state) and /model exist and belong to it, so an empty named volume or PVC
# mounted there is writable by the worker.
RUN groupadd --system --gid 10001 leadscore \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/leadscore --create-home \
      --shell /usr/sbin/nologin leadscore \
 && mkdir -p /data /model \
 && chown 10001:10001 /data /model
USER 10001:10001
WORKDIR /home/leadscore
# The worker's web server: /metrics, /healthz, /readyz, /leads/{id}.
EXPOSE 6066
# Exec form: leadscore is PID 1 and gets SIGTERM itself, so a stopping worker leaves its
# consumer group cleanly instead of being killed after the grace period.
ENTRYPOINT ["leadscore"]
CMD ["worker"]
