#!/bin/bash
# deploy-to-vmm.sh (dstack-wizard demo copy of gateway/dstack-app/deploy-to-vmm.sh, v0.5.5):
# compose the gateway CVM's app and deploy it to the VMM with vmm-cli.
set -e

if [ -f .env ]; then
  set -a
  # shellcheck source=/dev/null
  . ./.env
  set +a
else
  echo "Please create a .env file (see .env.example), then run this script again."
  exit 1
fi

required_env_vars=(
  "VMM_RPC"
  "CF_API_TOKEN"
  "CF_ZONE_ID"
  "SRV_DOMAIN"
  "PUBLIC_IP"
  "GATEWAY_APP_ID"
  "MY_URL"
  "GATEWAY_RPC_ADDR"
  "GATEWAY_ADMIN_RPC_ADDR"
  "GATEWAY_SERVING_ADDR"
  "GUEST_AGENT_ADDR"
  "WG_ADDR"
  "APP_LAUNCH_TOKEN"
)
for var in "${required_env_vars[@]}"; do
  if [ -z "${!var}" ]; then
    echo "Error: Required environment variable $var is not set."
    exit 1
  fi
done

CLI="../../vmm/src/vmm-cli.py --url $VMM_RPC"
# shellcheck disable=SC2034 # used by subvar, through ${!1}
WG_PORT=${WG_ADDR##*:}
COMPOSE_TMP=$(mktemp)
cp docker-compose.yaml "$COMPOSE_TMP"
subvar() {
  sed -i "s#\${$1}#${!1}#g" "$COMPOSE_TMP"
}
for v in PUBLIC_IP WG_PORT MY_URL BOOTNODE_URL SRV_DOMAIN CF_ZONE_ID SUBNET_INDEX ACME_STAGING APP_LAUNCH_TOKEN; do
  subvar "$v"
done

umask 077
printf 'CF_API_TOKEN=%s\n' "$CF_API_TOKEN" > .app_env

$CLI compose \
  --docker-compose "$COMPOSE_TMP" \
  --name dstack-gateway \
  --kms \
  --env-file .app_env \
  --public-logs \
  --public-sysinfo \
  --no-instance-id \
  --secure-time \
  --output .app-compose.json
rm -f "$COMPOSE_TMP"

echo "Configuration:"
echo "SRV_DOMAIN: $SRV_DOMAIN"
echo "MY_URL: $MY_URL"
echo "GATEWAY_APP_ID: $GATEWAY_APP_ID"
if [ -t 0 ]; then
  read -r -p "Continue? [y/N] " REPLY
  case "$REPLY" in [yY]*) ;; *) echo "Aborted."; exit 1 ;; esac
fi

echo "Deploying dstack-gateway to dstack-vmm..."
$CLI deploy \
  --name dstack-gateway \
  --app-id "$GATEWAY_APP_ID" \
  --image "$OS_IMAGE" \
  --compose .app-compose.json \
  --env-file .app_env \
  --port "tcp:$GATEWAY_RPC_ADDR:8000" \
  --port "udp:$WG_ADDR:51820" \
  --port "tcp:$GATEWAY_ADMIN_RPC_ADDR:8001" \
  --port "tcp:$GATEWAY_SERVING_ADDR:443" \
  --port "tcp:$GUEST_AGENT_ADDR:8090" \
  --vcpu 32 \
  --memory 32G
