#!/bin/sh
# Runs on the deploying machine (target docker): loads the images a local host's bundle runs into that host's own
# engine from the user's engine, which pulled each of them once (components/targets/docker/images.ts). What the inner
# engine already has is skipped; the rest goes through one `docker save | docker load` pipe, so no host pulls from a
# registry. Inputs: HOST_CONTAINER (the host container's name), IMAGES (space-separated references).
set -eu
: "${HOST_CONTAINER:?HOST_CONTAINER is required}" "${IMAGES:?IMAGES is required}"

missing=
for image in $IMAGES; do
  if ! docker exec "$HOST_CONTAINER" docker image inspect --format '{{.Id}}' "$image" >/dev/null 2>&1; then
    missing="$missing $image"
  fi
done
if [ -z "$missing" ]; then
  echo "load-images: $HOST_CONTAINER has every image of its bundle"
  exit 0
fi
echo "load-images: loading$missing into $HOST_CONTAINER"
# shellcheck disable=SC2086 # one word per image
docker save $missing | docker exec -i "$HOST_CONTAINER" docker load
# A pipe's status is its last command's: ask the host's engine for each image again.
for image in $missing; do
  if ! docker exec "$HOST_CONTAINER" docker image inspect --format '{{.Id}}' "$image" >/dev/null 2>&1; then
    echo "load-images: $image is still not in $HOST_CONTAINER's engine after the load (is it pulled on this machine? docker image inspect $image)" >&2
    exit 1
  fi
done
