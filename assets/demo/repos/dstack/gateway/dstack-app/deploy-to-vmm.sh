#!/bin/bash
# deploy-to-vmm.sh (dstack-wizard demo copy of gateway/dstack-app/deploy-to-vmm.sh): compose the
# gateway CVM's app and deploy it to the VMM with vmm-cli, as upstream's script does at the tag
# this checkout is at. 0.5.5: CF_API_TOKEN, CF_ZONE_ID and SRV_DOMAIN go into the CVM's
# environment (.app_env, left in this directory in clear), GATEWAY_SERVING_ADDR is the proxy's
# address, and the VMM's kms_url encrypts the environment. From 0.5.6: NODE_ID and KMS_URL are
# required, the environment carries no Cloudflare or domain settings (they are set later through
# the gateway's admin API), GATEWAY_SERVING_PORT is the proxy's port, --kms-url encrypts the
# environment, NET_MODE (default bridge: no port mappings) picks the network, and after the deploy
# the script itself sets ACME, the DNS credential and the ZT-Domain through the admin API (0.5.6 to
# 0.5.8; from 0.5.9 it only points at bootstrap-cluster.sh). In every release the compose hash
# printed is that of .app-compose.json, with a 0x.
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
atleast() { [ "$(printf '%s\n' "$1" "$V" | sort -V | head -n 1)" = "$1" ]; }
new() { atleast 0.5.6; }

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
  if atleast 0.5.9; then
    WG_IP="10.8.$((SUBNET_INDEX * 64)).1/16"
  else
    WG_IP="10.$((SUBNET_INDEX + 240)).0.1/12"
  fi
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

# Bootstrap Admin RPC configuration
# 0.5.6 to 0.5.8: wait for the admin API, then set the ACME URL, a Cloudflare DNS credential and
# the ZT-Domain (each only if missing; a failure is only a warning). From 0.5.9 that is
# bootstrap-cluster.sh's job.
if atleast 0.5.9; then
  echo ""
  echo "To bootstrap admin config (only needed for the first node in a cluster):"
  echo "  bash $(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bootstrap-cluster.sh"
elif new; then
  admin_addr=$GATEWAY_ADMIN_RPC_ADDR
  echo "Waiting for gateway admin API at $admin_addr..."
  retry=0
  while [ $retry -lt 60 ] && ! curl -sf "http://$admin_addr/prpc/Status" >/dev/null 2>&1; do
    retry=$((retry + 1))
    sleep 5
  done
  if [ $retry -eq 60 ]; then
    echo "WARN: admin API not ready after 60 retries, skipping bootstrap"
    exit 0
  fi
  echo "Admin API ready, bootstrapping configuration..."
  if [ "$ACME_STAGING" = "yes" ]; then
    ACME_URL="https://acme-staging-v02.api.letsencrypt.org/directory"
  else
    ACME_URL="https://acme-v02.api.letsencrypt.org/directory"
  fi
  echo "Setting certbot config (ACME URL: $ACME_URL)..."
  curl -sf -X POST "http://$admin_addr/prpc/SetCertbotConfig" -H "Content-Type: application/json" \
    -d '{"acme_url":"'"$ACME_URL"'","renew_interval_secs":3600,"renew_before_expiration_secs":864000,"renew_timeout_secs":300}' >/dev/null &&
    echo "  Certbot config set" || echo "  WARN: failed to set certbot config"
  if [ -n "$CF_API_TOKEN" ]; then
    cred_count=$(curl -sf "http://$admin_addr/prpc/ListDnsCredentials" 2>/dev/null | jq -r '.credentials | length' 2>/dev/null || echo 0)
    if [ "$cred_count" = "0" ]; then
      echo "Creating default DNS credential..."
      curl -sf -X POST "http://$admin_addr/prpc/CreateDnsCredential" -H "Content-Type: application/json" \
        -d '{"name":"cloudflare","provider_type":"cloudflare","cf_api_token":"'"$CF_API_TOKEN"'","set_as_default":true}' >/dev/null &&
        echo "  DNS credential created" || echo "  WARN: failed to create DNS credential"
    else
      echo "  DNS credentials already exist ($cred_count), skipping"
    fi
  fi
  if [ -n "$SRV_DOMAIN" ]; then
    # As upstream's script has it: it looks for .domain, which ListZtDomains does not return
    # (the domain is in .config.domain), so it always adds.
    has_domain=$(curl -sf "http://$admin_addr/prpc/ListZtDomains" 2>/dev/null |
      jq -r '.domains[]? | select(.domain=="'"$SRV_DOMAIN"'") | .domain' 2>/dev/null)
    if [ -z "$has_domain" ]; then
      echo "Adding ZT-Domain: $SRV_DOMAIN..."
      curl -sf -X POST "http://$admin_addr/prpc/AddZtDomain" -H "Content-Type: application/json" \
        -d '{"domain":"'"$SRV_DOMAIN"'","port":443,"priority":100}' >/dev/null &&
        echo "  ZT-Domain added" || echo "  WARN: failed to add ZT-Domain"
    else
      echo "  ZT-Domain $SRV_DOMAIN already exists, skipping"
    fi
  fi
  echo "Bootstrap complete"
  echo "Gateway Web UI: http://$admin_addr"
fi
