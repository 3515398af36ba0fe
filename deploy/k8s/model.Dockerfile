# The model image for deploy/k8s: the leadscore image with one model artifact at
# /model/leadscore-<version>/, which model-publish-job.yaml publishes on the model topic (the
# workers take it from there). This one trains the demo model from simulated history (as
# docker-compose's `model` service does):
#   docker build -t leadscore-model:0.1.0 --build-arg BASE_IMAGE=leadscore:0.1.0 \
#     - < deploy/k8s/model.Dockerfile
# For a model of your own (from `leadscore train --out DIR`), drop the train stage and
# COPY DIR/leadscore-<version>/ /model/leadscore-<version>/ instead.
ARG BASE_IMAGE=leadscore:0.1.0
FROM ${BASE_IMAGE} AS train
RUN leadscore simulate --leads 4000 --days 240 --seed 7 --out /tmp/history.jsonl --no-progress \
 && leadscore train --events /tmp/history.jsonl --out /tmp/model \
 && rm /tmp/history.jsonl

FROM ${BASE_IMAGE}
COPY --from=train /tmp/model/ /model/
