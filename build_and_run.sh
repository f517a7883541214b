#!/usr/bin/env bash
# Build the Lambda package, then run the approval controller: against the local
# emulator when no stack is deployed (or with --local), against the stack Terraform
# deploys into an empty emulator with --terraform, against AWS with --aws. With --controllers N (or
# CONTROLLER_STORE=dynamodb), the controllers share the stack's DynamoDB table instead of a SQLite file.
set -euo pipefail

usage="usage: ./build_and_run.sh [--local | --terraform | --aws] [--controllers N]"
mode=auto
unset controllers  # how many to start, once --controllers says
refuse() { echo "build_and_run.sh: $1" >&2; exit 2; }
while (($#)); do
  case "$1" in
    --local | --terraform | --aws)
      [[ "$mode" == auto ]] || refuse "choose one of --local, --terraform and --aws. $usage"
      mode=${1#--} ;;
    --controllers) [[ $# -ge 2 ]] || refuse "--controllers needs a number. $usage"; controllers=$2; shift ;;
    --controllers=*) controllers=${1#*=} ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done

# Checked before anything is built or started: a wrong count starts nothing.
port="${CONTROLLER_PORT:-3000}"
store="${CONTROLLER_STORE:-}"
if [[ -v controllers ]]; then
  [[ "$controllers" =~ ^[0-9]+$ ]] && ((10#$controllers >= 1)) \
    || refuse "--controllers takes how many controllers to start, a whole number from 1 (not '$controllers')."
  [[ "$port" =~ ^[0-9]{1,5}$ ]] && ((10#$port >= 1 && 10#$port <= 65535)) \
    || refuse "CONTROLLER_PORT must be a port number from 1 to 65535 (not '$port')."
  port=$((10#$port))
  room=$((65535 - port + 1))
  ((${#controllers} <= 5 && 10#$controllers <= room)) \
    || refuse "--controllers $controllers: from CONTROLLER_PORT=$port to 65535 there are only $room ports."
  controllers=$((10#$controllers))
  last=$((port + controllers - 1))
  for taken in "EMULATOR_PORT=${EMULATOR_PORT:-5000}" "EMULATOR_API_PORT=${EMULATOR_API_PORT:-4000}"; do
    ((${taken#*=} < port || ${taken#*=} > last)) \
      || refuse "--controllers $controllers would use ports $port-$last, and $taken is one of them; start fewer or set CONTROLLER_PORT."
  done
  [[ -z "$store" || "$store" == dynamodb ]] \
    || refuse "--controllers runs the controllers on the shared DynamoDB table, not CONTROLLER_STORE=$store (one controller per SQLite file); unset it or set it to dynamodb."
  store=dynamodb
fi
controllers=${controllers:-1}
last=${last:-$port}

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

# Controllers on one table must sign sessions with one key: unless CONTROLLER_SECRET_KEY is set, the one
# kept beside the SQLite database's place (made on the first run, owner-only, reused after).
key_file=""
if [[ "$store" == dynamodb && -z "${CONTROLLER_SECRET_KEY:-}" ]]; then
  key_file="$(dirname "${CONTROLLER_DATABASE:-instance/approvals.sqlite3}")/secret_key"
  CONTROLLER_SECRET_KEY=$(run -m stack.signing_key "$key_file") || exit 1
  export CONTROLLER_SECRET_KEY
fi

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

if [[ "$store" == dynamodb ]]; then
  export CONTROLLER_STORE=dynamodb
  if [[ -z "${CONTROLLER_DYNAMODB_TABLE:-}" ]]; then
    # APPROVAL_QUEUE_URL set (--aws) keeps the controller from reading the outputs, so it gets the table here
    if [[ "$mode" == aws ]]; then table=$(aws_output approvals_table_name 2>/dev/null); else
      table=$(output "$outputs" approvals_table_name 2>/dev/null); fi \
      || { echo "The stack's outputs name no approvals_table_name: apply terraform/ again, or set CONTROLLER_DYNAMODB_TABLE." >&2; exit 1; }
    export CONTROLLER_DYNAMODB_TABLE=$table
  fi
  users_add="CONTROLLER_STORE=dynamodb"
  # the users command checks the store's settings as a controller does, the key among them
  [[ -n "$key_file" ]] && users_add+=" CONTROLLER_SECRET_KEY=\"\$(cat $(printf %q "$key_file"))\""
  [[ "$outputs" == .emulator/outputs.json ]] || users_add+=" EMULATOR_OUTPUTS=$(printf %q "$outputs")"
  [[ -z "${table:-}" ]] && users_add+=" CONTROLLER_DYNAMODB_TABLE=$(printf %q "$CONTROLLER_DYNAMODB_TABLE")"
  users_add+=" $venv/bin/python -m controller users add NAME --role approver"
  addresses=$(for ((p = port; p <= last; p++)); do printf ' http://127.0.0.1:%s/' "$p"; done)
  what="$controllers controllers, ports $port to $last,"
  ((controllers > 1)) || what="the controller, port $port,"
  cat <<STARTED

Starting $what on the DynamoDB table $CONTROLLER_DYNAMODB_TABLE (any controller serves every request):
 $addresses
  Signing key (CONTROLLER_SECRET_KEY): ${key_file:-as you set it}${key_file:+, made once and kept (mode 0600)}
  Users, on the table:  $users_add
  One address in front of them all (nginx): docs/load-balancing.md
  Stop them all, and the emulator: Ctrl-C here, or kill $$
STARTED
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
if ((controllers == 1)); then
  start controller -m controller
else
  for ((p = port; p <= last; p++)); do
    export CONTROLLER_PORT=$p
    start "controller on port $p" -m controller
  done
fi
wait_for_any
