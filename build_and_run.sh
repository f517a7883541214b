#!/usr/bin/env bash
# Build the Lambda package, then run the approval controller: against the local
# emulator when no stack is deployed (or with --local), against AWS with --aws.
set -euo pipefail

usage="usage: ./build_and_run.sh [--local | --aws]"
mode=auto
case "${1:-}" in
  "") ;;
  --local) mode=local ;;
  --aws) mode=aws ;;
  -h|--help) echo "$usage"; exit 0 ;;
  *) echo "$usage" >&2; exit 2 ;;
esac

cd "$(dirname "$0")"
python="${PYTHON:-python3}"
venv=.venv
stamp="$venv/.installed"

if [[ ! -x "$venv/bin/python" ]]; then
  echo "==> creating $venv"
  "$python" -m venv "$venv"
fi
if [[ ! -f "$stamp" || pyproject.toml -nt "$stamp" ]]; then
  echo "==> installing the project into $venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --editable .
  touch "$stamp"
fi
run() { "$venv/bin/python" "$@"; }

echo "==> building lambda/payload.zip"
run -m stack.lambda_package >/dev/null

deployed_outputs=""
if command -v terraform >/dev/null 2>&1; then
  echo "==> terraform init"
  terraform -chdir=terraform init -input=false >/dev/null 2>&1 \
    || echo "    terraform init failed (no registry access?); the local emulator does not need it"
  deployed_outputs=$(terraform -chdir=terraform output -json 2>/dev/null || true)
fi
if [[ "$mode" == auto ]]; then
  if [[ -n "$deployed_outputs" && "$deployed_outputs" != "{}" ]]; then mode=aws; else mode=local; fi
fi

if [[ "$mode" == aws ]]; then
  if [[ -z "$deployed_outputs" || "$deployed_outputs" == "{}" ]]; then
    echo "No deployed stack: run terraform apply first (see README), or use --local." >&2
    exit 1
  fi
  output() { run -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]]["value"])' "$1" <<<"$deployed_outputs"; }
  export APPROVAL_QUEUE_URL AWS_REGION
  APPROVAL_QUEUE_URL=$(output approval_queue_url)
  AWS_REGION=$(output aws_region)
  api_url=$(output api_url)
  api_key_header="-H \"x-api-key: \$(terraform -chdir=terraform output -raw api_key)\" "
  echo "==> using the stack deployed with Terraform"
else
  outputs=.emulator/outputs.json
  rm -f "$outputs"
  echo "==> no deployed stack: starting the local AWS emulator (python -m emulator)"
  run -m emulator --outputs "$outputs" &
  emulator_pid=$!
  trap 'kill "$emulator_pid" 2>/dev/null; wait "$emulator_pid" 2>/dev/null || true' EXIT
  for _ in $(seq 1 300); do
    [[ -f "$outputs" ]] && break
    kill -0 "$emulator_pid" 2>/dev/null || { echo "the emulator failed to start" >&2; exit 1; }
    sleep 0.1
  done
  [[ -f "$outputs" ]] || { echo "the emulator did not become ready within 30 s" >&2; exit 1; }
  emulator_output() { run -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["value"])' "$outputs" "$1"; }
  api_url=$(emulator_output api_url)
  api_key_header="-H 'x-api-key: $(emulator_output api_key)' "
fi

port="${CONTROLLER_PORT:-3000}"
cat <<NEXT

Ready. In another shell:
  curl -X POST ${api_key_header}-H 'Content-Type: application/json' \\
       -d '{"order_id": "ORD-1", "customer": {"id": "C-1", "name": "Ada"}, "items": [{"sku": "BOOK-1", "quantity": 2, "unit_price": 12.5}]}' \\
       $api_url
  curl localhost:$port/pending
  curl -X POST localhost:$port/approve          # or /approve/<id>, /reject/<id> -d '{"reason": "..."}'
  curl localhost:$port/approvals/<id>

NEXT
run -m controller
