#!/usr/bin/env bash
# The docker-compose lab parses, with the five services and four networks the
# operations issue asks for. (No Docker engine runs here, so it is not started:
# the netns lab is what the tests run.)
set -u
cd "$(dirname "$0")/../docker"
command -v docker-compose >/dev/null || { echo "SKIP: docker-compose is not installed (./scripts/setup installs it)"; exit 77; }
fail=0
out=$(docker-compose -f docker-compose.yml config 2>&1) || { echo "not ok - docker-compose config: $out"; exit 1; }
echo "ok - docker-compose config parses docker/docker-compose.yml"
services=$(docker-compose -f docker-compose.yml config --services | sort | tr '\n' ' ')
if [ "$services" = "client hub router-lte router-wifi server " ]; then echo "ok - services: $services"; else echo "not ok - services: $services"; fail=1; fi
for n in internet wifi lte servers; do
  if grep -q "^  $n:" <<< "$(sed -n '/^networks:/,$p' <<< "$out")"; then echo "ok - network $n"; else echo "not ok - network $n"; fail=1; fi
done
exit $fail
