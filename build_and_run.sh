#!/usr/bin/env bash
# Build the Lambda package, then run the approval controller: against the local
# emulator when no stack is deployed (or with --local), against the stack Terraform
# deploys into an empty emulator with --terraform, against AWS with --aws.
set -euo pipefail

usage="usage: ./build_and_run.sh [--local | --terraform | --aws]"
mode=auto
case "${1:-}" in
  "") ;;
  --local) mode=local ;;
  --terraform) mode=terraform ;;
  --aws) mode=aws ;;
  -h|--help) echo "$usage"; exit 0 ;;
  *) echo "$usage" >&2; exit 2 ;;
esac

cd "$(dirname "$0")"
python="${PYTHON:-python3}"
venv=${VENV:-.venv}
stamp="$venv/.installed"
outputs=${EMULATOR_OUTPUTS:-.emulator/outputs.json}
export EMULATOR_OUTPUTS=$outputs  # where the controller reads them

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
output() { run -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["value"])' "$@"; }

echo "==> building lambda/payload.zip"
run -m stack.lambda_package >/dev/null

# A TF_CLI_CONFIG_FILE that names no file only makes every terraform command warn.
if [[ -n "${TF_CLI_CONFIG_FILE:-}" && ! -f "$TF_CLI_CONFIG_FILE" ]]; then unset TF_CLI_CONFIG_FILE; fi
# Install the aws provider from a filesystem mirror when there is one, so init works offline.
plugin_dir="${TF_PLUGIN_DIR:-}"
if [[ -z "$plugin_dir" && -d /opt/tf-plugins ]]; then plugin_dir=/opt/tf-plugins; fi
init_args=(-input=false ${plugin_dir:+"-plugin-dir=$plugin_dir"})

deployed_outputs=""
if [[ "$mode" == auto || "$mode" == aws ]] && command -v terraform >/dev/null 2>&1; then
  echo "==> terraform init"
  terraform -chdir=terraform init "${init_args[@]}" >/dev/null 2>&1 \
    || echo "    terraform init failed (no registry access?); the local emulator does not need it"
  # The emulator workspace holds the emulator's stack, never the AWS one.
  if [[ "$(terraform -chdir=terraform workspace show 2>/dev/null)" != emulator ]]; then
    deployed_outputs=$(terraform -chdir=terraform output -json 2>/dev/null || true)
  fi
fi
if [[ "$mode" == auto ]]; then
  if [[ -n "$deployed_outputs" && "$deployed_outputs" != "{}" ]]; then mode=aws; else mode=local; fi
fi

# Every process this script starts ends when it ends, however it ends: Ctrl-C, kill, a closed terminal,
# or one of them dying (then the script says which and exits non-zero).
declare -A started=()  # pid -> what it is
start() {  # start NAME ARGS...: run the project's Python in the background, as a child of this shell itself
  local name=$1
  shift
  "$venv/bin/python" "$@" &
  started[$!]=$name
}
stop_started() {
  local pid
  for pid in "${!started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for _ in $(seq 1 100); do  # 10 s to stop cleanly, then killed
    local alive=0
    for pid in "${!started[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [[ $alive == 0 ]] && break
    sleep 0.1
  done
  for pid in "${!started[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop_started EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
# Wait until one of the started processes ends; say which, and exit non-zero (the EXIT trap stops the rest).
wait_for_any() {
  local status=0 pid
  wait -n || status=$?
  for pid in "${!started[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "build_and_run.sh: the ${started[$pid]} (pid $pid) exited with status $status; stopping the rest" >&2
      unset "started[$pid]"
    fi
  done
  exit $((status == 0 ? 1 : status))
}

start_emulator() {
  rm -f "$outputs"
  start emulator -m emulator --outputs "$outputs" --port "${EMULATOR_PORT:-5000}" --api-port "${EMULATOR_API_PORT:-4000}" "$@"
  local pid=$!
  for _ in $(seq 1 1200); do
    [[ -f "$outputs" ]] && return 0
    kill -0 "$pid" 2>/dev/null || { echo "the emulator failed to start" >&2; exit 1; }
    sleep 0.1
  done
  echo "the emulator did not become ready within 120 s" >&2
  exit 1
}

# The curl that starts an order through the API the emulator serves, its key included.
local_order() {
  printf '%s' "curl -X POST -H 'x-api-key: $(output "$outputs" api_key)' -H 'Content-Type: application/json' \\
       -d '$order' \\
       $(output "$outputs" api_url)"
}

port="${CONTROLLER_PORT:-3000}"
# Pasted, '$RANDOM' gives each order an id of its own (bash and zsh).
order='{"order_id": "ORD-'"'\$RANDOM'"'", "customer": {"id": "C-1", "name": "Ada"}, "items": [{"sku": "BOOK-1", "quantity": 2, "unit_price": 12.5}]}'
if [[ "$mode" == aws ]]; then
  if [[ -z "$deployed_outputs" || "$deployed_outputs" == "{}" ]]; then
    echo "No deployed stack: run terraform apply first (see README), or use --local." >&2
    exit 1
  fi
  aws_output() { run -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]]["value"])' "$1" <<<"$deployed_outputs"; }
  export APPROVAL_QUEUE_URL AWS_REGION
  APPROVAL_QUEUE_URL=$(aws_output approval_queue_url)
  AWS_REGION=$(aws_output aws_region)
  echo "==> using the stack deployed with Terraform"
  start_order="curl -X POST -H \"x-api-key: \$(terraform -chdir=terraform output -raw api_key)\" -H 'Content-Type: application/json' \\
       -d '$order' \\
       $(aws_output api_url)"
elif [[ "$mode" == terraform ]]; then
  command -v terraform >/dev/null 2>&1 \
    || { echo "--terraform needs Terraform >= 1.5 on the PATH (https://developer.hashicorp.com/terraform/install)." >&2; exit 1; }
  if [[ -n "$plugin_dir" ]] && ! compgen -G "$plugin_dir/registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*" >/dev/null; then
    echo "--terraform: no hashicorp/aws provider in $plugin_dir (registry.terraform.io/hashicorp/aws/<version>/<os_arch>/)." >&2
    exit 1
  fi
  echo "==> starting the local AWS emulator, empty (python -m emulator --empty)"
  start_emulator --empty
  endpoint_url=$(output "$outputs" aws_endpoint_url)
  # The workspace named emulator deploys into the emulator, into a state of its own. The emulator
  # keeps nothing between runs, so a state left by an earlier one describes resources that are gone.
  export TF_WORKSPACE=emulator
  rm -rf terraform/terraform.tfstate.d/emulator
  variables=(-var="lambda_function_payload=$PWD/lambda/payload.zip"
             -var="sfn_state_machine_definition=$PWD/state_machine_definition.json.tpl"
             -var="emulator_endpoint_url=$endpoint_url"
             -var="emulator_gateway_url=$(output "$outputs" api_gateway_url)")
  log=.emulator/terraform.log
  terraform_step() {
    echo "==> terraform $1 (log: $log)"
    terraform -chdir=terraform "$@" >>"$log" 2>&1 || {
      tail -n 30 "$log" >&2
      [[ "$1" == init && -z "$plugin_dir" ]] && echo "No registry access? Put the provider in a filesystem mirror and set TF_PLUGIN_DIR." >&2
      exit 1
    }
  }
  : >"$log"
  terraform_step init "${init_args[@]}"
  terraform_step apply -input=false -auto-approve "${variables[@]}"
  terraform -chdir=terraform output -json >"$outputs.tmp" && mv "$outputs.tmp" "$outputs"
  quoted_variables=$(printf ' %q' "${variables[@]}")
  cat <<COMMANDS

Deployed with Terraform into the emulator at $endpoint_url. The commands, to run plan, apply
or destroy against it yourself while this runs (from $PWD):
  export TF_WORKSPACE=emulator
  terraform -chdir=terraform init ${init_args[*]}
  terraform -chdir=terraform apply -input=false -auto-approve$quoted_variables
  terraform -chdir=terraform output -json > $outputs
  terraform -chdir=terraform plan$quoted_variables
  # the approvals table refuses deletion until its protection is lifted
  terraform -chdir=terraform apply -input=false -auto-approve -var=approvals_table_deletion_protection=false$quoted_variables
  terraform -chdir=terraform destroy -var=approvals_table_deletion_protection=false$quoted_variables
COMMANDS
  start_order=$(local_order)
else
  echo "==> no deployed stack: starting the local AWS emulator (python -m emulator)"
  start_emulator
  start_order=$(local_order)
fi

oldest="curl -s localhost:$port/pending | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"pending\"][0][\"id\"])'"
cat <<NEXT

Ready. In another shell, paste these in order (run /pending again until it lists the order):
  $start_order
  curl localhost:$port/pending
  id=\$($oldest)
  curl -X POST localhost:$port/approve/\$id
  curl localhost:$port/approvals/\$id
  # or reject it: curl -X POST localhost:$port/reject/\$id -H 'Content-Type: application/json' -d '{"reason": "..."}'

NEXT
start controller -m controller
wait_for_any
