# syntax=docker/dockerfile:1
#
# painchain-gh: one-shot GitHub -> PainChain sync, meant to run as a
# Kubernetes CronJob (see k8s/). Build:
#
#   docker build -t painchain-gh:0.1.0 --build-arg VERSION=0.1.0 .
#
# The builder stage turns the project and its dependencies into wheels and
# installs them into a self-contained virtualenv at /opt/venv; the final stage
# copies only that virtualenv onto the same slim base (same interpreter path,
# so the venv stays valid). No compiler, no wheel cache, no source tree ships.
# .ci/lint-deploy runs the same two pip commands outside Docker to check them.

ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim-bookworm AS builder

WORKDIR /src
# .dockerignore is an allowlist: only the files needed to build the package.
COPY . .

RUN pip wheel --no-cache-dir --wheel-dir /wheels . \
 && python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheels painchain-gh


FROM python:${PYTHON_VERSION}-slim-bookworm

ARG VERSION=0.1.0
ARG SOURCE_URL=https://github.com/PainChain/PainChain

LABEL org.opencontainers.image.title="painchain-gh" \
      org.opencontainers.image.description="GitHub connector for PainChain: one-shot sync of repository events and workflow runs into the PainChain timeline" \
      org.opencontainers.image.source="${SOURCE_URL}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"

# Bytecode was compiled by pip at install time (in the builder); at run time
# the root filesystem is read-only, so never try to write .pyc files.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH \
    PAINCHAIN_GH_STATE_FILE=/var/lib/painchain-gh/state.json

# Fixed numeric UID/GID so that Kubernetes' runAsNonRoot/runAsUser can verify
# it; the state directory doubles as the user's home.
RUN groupadd --system --gid 10001 painchain \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
        --home-dir /var/lib/painchain-gh --shell /usr/sbin/nologin painchain \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/painchain-gh

COPY --from=builder /opt/venv /opt/venv

USER 10001:10001
WORKDIR /var/lib/painchain-gh
VOLUME ["/var/lib/painchain-gh"]

ENTRYPOINT ["painchain-gh"]
CMD ["sync"]
