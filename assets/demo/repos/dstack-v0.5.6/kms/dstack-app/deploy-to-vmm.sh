#!/bin/bash
# deploy-to-vmm.sh (dstack-wizard demo copy of kms/dstack-app/deploy-to-vmm.sh, v0.5.6 and later):
# compose the KMS CVM's app and deploy it to the VMM with vmm-cli.
set -e

if [ -f .env ]; then
  set -a
  # shellcheck source=/dev/null
  . ./.env
  set +a
else
  cat <<ENV > .env
VMM_RPC=http://127.0.0.1:9080
KMS_CONTRACT_ADDR=0x59E4a36B01a87fD9D1A4C12377253FE9a7b018Ba
KMS_RPC_ADDR=0.0.0.0:9201
AUTH_API_RPC_ADDR=0.0.0.0:9200
GUEST_AGENT_ADDR=127.0.0.1:9205
OS_IMAGE=dstack-0.5.5
KMS_IMAGE=dstacktee/dstack-kms@sha256:11ac59f524a22462ccd2152219b0bec48a28ceb734e32500152d4abefab7a62a
ENV
  echo "Please edit the .env file and set the required variables, then run this script again."
  exit 1
fi

required_env_vars=(
  "VMM_RPC"
  "KMS_CONTRACT_ADDR"
  "ETH_RPC_URL"
  "KMS_RPC_ADDR"
  "AUTH_API_RPC_ADDR"
  "GUEST_AGENT_ADDR"
  "IMAGE_DOWNLOAD_URL"
  "VERIFY_IMAGE"
  "GIT_REPOSITORY"
)
for var in "${required_env_vars[@]}"; do
  if [ -z "${!var}" ]; then
    echo "Error: Required environment variable $var is not set."
    exit 1
  fi
done

CLI="../../vmm/src/vmm-cli.py --url $VMM_RPC"
GIT_REV=$(git rev-parse "${GIT_REV:-HEAD}")
COMPOSE_TMP=$(mktemp)
cp compose-dev.yaml "$COMPOSE_TMP"
subvar() {
  sed -i "s#\${$1}#${!1}#g" "$COMPOSE_TMP"
}
subvar GIT_REPOSITORY
subvar GIT_REV
subvar KMS_CONTRACT_ADDR
subvar VERIFY_IMAGE
subvar IMAGE_DOWNLOAD_URL
subvar KMS_IMAGE
# As upstream does: the RPC URL ends up in the compose file (prefer a keyless or restricted URL).
subvar ETH_RPC_URL

echo "Docker compose file:"
grep -E 'image:|KMS_CONTRACT_ADDR=|quote_enabled' "$COMPOSE_TMP"

$CLI compose \
  --docker-compose "$COMPOSE_TMP" \
  --name kms \
  --local-key-provider \
  --public-logs \
  --public-sysinfo \
  --no-instance-id \
  --secure-time \
  --output .app-compose.json

rm -f "$COMPOSE_TMP"

echo "Configuration:"
echo "VMM_RPC: $VMM_RPC"
echo "KMS_RPC_ADDR: $KMS_RPC_ADDR"
echo "AUTH_API_RPC_ADDR: $AUTH_API_RPC_ADDR"
echo "GUEST_AGENT_ADDR: $GUEST_AGENT_ADDR"
echo "KMS_CONTRACT_ADDR: $KMS_CONTRACT_ADDR"
echo "OS_IMAGE: $OS_IMAGE"
if [ -t 0 ]; then
  read -r -p "Continue? [y/N] " REPLY
  case "$REPLY" in [yY]*) ;; *) echo "Aborted."; exit 1 ;; esac
fi

echo "Deploying KMS to dstack-vmm..."
$CLI deploy \
  --name kms \
  --image "$OS_IMAGE" \
  --compose .app-compose.json \
  --port "tcp:$KMS_RPC_ADDR:8000" \
  --port "tcp:$AUTH_API_RPC_ADDR:8001" \
  --port "tcp:$GUEST_AGENT_ADDR:8090" \
  --vcpu 8 \
  --memory 8G \
  --disk 50G
