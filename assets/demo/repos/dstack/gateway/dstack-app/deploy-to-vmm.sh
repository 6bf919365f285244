#!/bin/bash
# deploy-to-vmm.sh (dstack-wizard demo copy of gateway/dstack-app/deploy-to-vmm.sh): compose the
# gateway CVM's app and deploy it to the VMM with vmm-cli, as upstream's script does at the tag
# this checkout is at. 0.5.5: CF_API_TOKEN, CF_ZONE_ID and SRV_DOMAIN go into the CVM's
# environment (.app_env, left in this directory in clear), GATEWAY_SERVING_ADDR is the proxy's
# address, and the VMM's kms_url encrypts the environment. From 0.5.6: NODE_ID and KMS_URL are
# required, the environment carries no Cloudflare or domain settings (they are set later through
# the gateway's admin API), GATEWAY_SERVING_PORT is the proxy's port, --kms-url encrypts the
# environment, and NET_MODE (default bridge: no port mappings) picks the network. In every
# release the compose hash printed is that of .app-compose.json, with a 0x.
APP_COMPOSE_FILE=""
while getopts "c:h" opt; do
  case $opt in
  c) APP_COMPOSE_FILE=$OPTARG ;;
  h) echo "Usage: $0 [-c <app compose file>]"; exit 0 ;;
  *) echo "Usage: $0 [-c <app compose file>]"; exit 1 ;;
  esac
done

TAG=$(cat "$(git rev-parse --show-toplevel)/.git/demo-tag" 2>/dev/null)
V=${TAG#v}
new() { [ "$(printf '%s\n' 0.5.6 "$V" | sort -V | head -n 1)" = 0.5.6 ]; }

if [ -f ".env" ]; then
  echo "Loading environment variables from .env file..."
  set -a
  # shellcheck source=/dev/null
  source .env
  set +a
else
  echo "Creating template .env file..."
  printf '%s\n' "# VMM_RPC=unix:../../../build/vmm.sock" "# SRV_DOMAIN=" "# GATEWAY_APP_ID=" "# MY_URL=" >.env
  echo "Please edit the .env file and set the required variables, then run this script again."
  exit 1
fi

if new; then
  required_env_vars=(VMM_RPC CF_API_TOKEN SRV_DOMAIN PUBLIC_IP WG_ADDR GATEWAY_APP_ID MY_URL APP_LAUNCH_TOKEN NODE_ID KMS_URL)
else
  required_env_vars=(VMM_RPC CF_API_TOKEN CF_ZONE_ID SRV_DOMAIN PUBLIC_IP WG_ADDR GATEWAY_APP_ID MY_URL APP_LAUNCH_TOKEN)
fi
for var in "${required_env_vars[@]}"; do
  if [ -z "${!var}" ]; then
    echo "Error: Required environment variable $var is not set."
    echo "Please edit the .env file and set a value for $var, then run this script again."
    exit 1
  fi
done

CLI="../../vmm/src/vmm-cli.py --url $VMM_RPC"
WG_PORT=$(echo "$WG_ADDR" | cut -d':' -f2)
COMPOSE_TMP=$(mktemp)
cp docker-compose.yaml "$COMPOSE_TMP"
subvar() {
  sed -i "s|\${$1}|${!1}|g" "$COMPOSE_TMP"
}
if new; then
  subvar GATEWAY_IMAGE
  [ -n "$RPC_DOMAIN" ] || RPC_DOMAIN="gateway.$SRV_DOMAIN"
  WG_IP="10.8.$((SUBNET_INDEX * 64)).1/16"
  PROXY_LISTEN_PORT=443
else
  GIT_REV=$(git rev-parse "$GIT_REV")
  subvar GIT_REV
  subvar ACME_STAGING
fi
echo "Docker compose file:"
cat "$COMPOSE_TMP"

if new; then
  cat >.app_env <<EOF
WG_ENDPOINT=$PUBLIC_IP:$WG_PORT
MY_URL=$MY_URL
BOOTNODE_URL=$BOOTNODE_URL
WG_IP=$WG_IP
APP_LAUNCH_TOKEN=$APP_LAUNCH_TOKEN
RPC_DOMAIN=$RPC_DOMAIN
NODE_ID=$NODE_ID
PROXY_LISTEN_PORT=$PROXY_LISTEN_PORT
EOF
else
  cat >.app_env <<EOF
CF_API_TOKEN=$CF_API_TOKEN
CF_ZONE_ID=$CF_ZONE_ID
SRV_DOMAIN=$SRV_DOMAIN
WG_ENDPOINT=$PUBLIC_IP:$WG_PORT
MY_URL=$MY_URL
BOOTNODE_URL=$BOOTNODE_URL
SUBNET_INDEX=$SUBNET_INDEX
APP_LAUNCH_TOKEN=$APP_LAUNCH_TOKEN
RPC_DOMAIN=$RPC_DOMAIN
EOF
fi

EXPECTED_TOKEN_HASH=$(echo -n "$APP_LAUNCH_TOKEN" | sha256sum | cut -d' ' -f1)
if [ -n "$APP_COMPOSE_FILE" ]; then
  cp "$APP_COMPOSE_FILE" .app-compose.json
else
  printf '%s\n' '# checks APP_LAUNCH_TOKEN against launch_token_hash of app-compose.json' >.prelaunch.sh
  $CLI compose \
    --docker-compose "$COMPOSE_TMP" \
    --name dstack-gateway \
    --kms \
    --env-file .app_env \
    --public-logs \
    --public-sysinfo \
    --no-instance-id \
    --secure-time \
    --prelaunch-script .prelaunch.sh \
    --output .app-compose.json >/dev/null
fi
mv .app-compose.json .app-compose.json.tmp
jq --arg token_hash "$EXPECTED_TOKEN_HASH" '.launch_token_hash = $token_hash' .app-compose.json.tmp >.app-compose.json
COMPOSE_HASH=$(sha256sum .app-compose.json | cut -d' ' -f1)
echo "Compose hash: 0x$COMPOSE_HASH"
rm "$COMPOSE_TMP"

echo "Configuration:"
echo "VMM_RPC: $VMM_RPC"
echo "SRV_DOMAIN: $SRV_DOMAIN"
echo "PUBLIC_IP: $PUBLIC_IP"
echo "GATEWAY_APP_ID: $GATEWAY_APP_ID"
echo "MY_URL: $MY_URL"
echo "RPC_DOMAIN: $RPC_DOMAIN"
if [ -t 0 ]; then
  read -r -p "Continue? [y/N] " -n 1 REPLY
  echo
  if [[ ! $REPLY =~ ^[Yy]$ ]]; then
    echo "Deployment cancelled"
    exit 1
  fi
fi

echo "Deploying dstack-gateway to dstack-vmm..."

ARGS=(--name dstack-gateway --app-id "$GATEWAY_APP_ID" --compose .app-compose.json --env-file .app_env
  --image "$OS_IMAGE" --vcpu 32 --memory 32G)
if ! new; then
  ARGS+=(--port "tcp:$GATEWAY_RPC_ADDR:8000" --port "tcp:$GATEWAY_ADMIN_RPC_ADDR:8001"
    --port "tcp:$GATEWAY_SERVING_ADDR:443" --port "tcp:$GUEST_AGENT_ADDR:8090" --port "udp:$WG_ADDR:51820")
else
  ARGS+=(--kms-url "$KMS_URL")
  if [ "${NET_MODE:-bridge}" = bridge ]; then
    ARGS+=(--net bridge)
  else
    ARGS+=(--port "tcp:$GATEWAY_RPC_ADDR:8000" --port "tcp:$GATEWAY_ADMIN_RPC_ADDR:8001"
      --port "tcp:$GUEST_AGENT_ADDR:8090" --port "udp:$WG_ADDR:51820")
    for hp in $(seq "$GATEWAY_SERVING_PORT" $((GATEWAY_SERVING_PORT + ${GATEWAY_SERVING_NUM_PORTS:-1} - 1))); do
      ARGS+=(--port "tcp:0.0.0.0:$hp:$((443 + hp - GATEWAY_SERVING_PORT))")
    done
  fi
fi
$CLI deploy "${ARGS[@]}"
