# The model image for deploy/k8s: only a model artifact, at /model/<version>/, copied by the
# workers' initContainer into their pods. This one trains the demo model from simulated
# history (as docker-compose's `model` service does), inside the leadscore image:
#   docker build -t leadscore-model:0.1.0 --build-arg BASE_IMAGE=leadscore:0.1.0 \
#     - < deploy/k8s/model.Dockerfile
# For a model of your own (from `leadscore train --out DIR`), build FROM busybox and
# COPY DIR/<version>/ /model/<version>/ instead.
ARG BASE_IMAGE=leadscore:0.1.0
FROM ${BASE_IMAGE} AS train
RUN leadscore simulate --leads 4000 --days 240 --seed 7 --out /tmp/history.jsonl --no-progress \
 && leadscore train --events /tmp/history.jsonl --out /tmp/model \
 && rm /tmp/history.jsonl

FROM busybox:1.37
COPY --from=train /tmp/model/ /model/
