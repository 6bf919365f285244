#!/bin/bash
# bootstrap-cluster.sh (dstack-wizard demo copy of gateway/dstack-app/bootstrap-cluster.sh, v0.5.9
# and later): set the gateway's ACME URL, a Cloudflare DNS credential and the ZT-Domain through
# its admin API, each only if missing. A failed call is only a warning; the script still says
# "Bootstrap complete". The admin address is the first argument, else GATEWAY_ADMIN_RPC_ADDR.
if [ -f ".env" ]; then
  set -a
  # shellcheck source=/dev/null
  source .env
  set +a
fi
ADMIN_ADDR="${1:-${GATEWAY_ADMIN_RPC_ADDR:-127.0.0.1:9203}}"
echo "Waiting for gateway admin API at $ADMIN_ADDR..."
retry=0
while [ $retry -lt 60 ] && ! curl -sf "http://$ADMIN_ADDR/prpc/Status" >/dev/null 2>&1; do
  retry=$((retry + 1))
  sleep 5
done
if [ $retry -eq 60 ]; then
  echo "ERROR: admin API not ready after 60 retries"
  exit 1
fi
echo "Admin API ready, bootstrapping configuration..."
if [ "$ACME_STAGING" = "yes" ]; then
  ACME_URL="https://acme-staging-v02.api.letsencrypt.org/directory"
else
  ACME_URL="https://acme-v02.api.letsencrypt.org/directory"
fi
echo "Setting certbot config (ACME URL: $ACME_URL)..."
curl -sf -X POST "http://$ADMIN_ADDR/prpc/SetCertbotConfig" -H "Content-Type: application/json" \
  -d '{"acme_url":"'"$ACME_URL"'","renew_interval_secs":3600,"renew_before_expiration_secs":864000,"renew_timeout_secs":300}' >/dev/null &&
  echo "  Certbot config set" || echo "  WARN: failed to set certbot config"
if [ -n "$CF_API_TOKEN" ]; then
  cred_count=$(curl -sf "http://$ADMIN_ADDR/prpc/ListDnsCredentials" 2>/dev/null | jq -r '.credentials | length' 2>/dev/null || echo 0)
  if [ "$cred_count" = "0" ]; then
    echo "Creating default DNS credential..."
    curl -sf -X POST "http://$ADMIN_ADDR/prpc/CreateDnsCredential" -H "Content-Type: application/json" \
      -d '{"name":"cloudflare","provider_type":"cloudflare","cf_api_token":"'"$CF_API_TOKEN"'","set_as_default":true}' >/dev/null &&
      echo "  DNS credential created" || echo "  WARN: failed to create DNS credential"
  else
    echo "  DNS credentials already exist ($cred_count), skipping"
  fi
else
  echo "  WARN: CF_API_TOKEN not set, skipping DNS credential creation"
fi
if [ -n "$SRV_DOMAIN" ]; then
  has_domain=$(curl -sf "http://$ADMIN_ADDR/prpc/ListZtDomains" 2>/dev/null |
    jq -r '.domains[]? | select(.domain=="'"$SRV_DOMAIN"'") | .domain' 2>/dev/null)
  if [ -z "$has_domain" ]; then
    echo "Adding ZT-Domain: $SRV_DOMAIN..."
    curl -sf -X POST "http://$ADMIN_ADDR/prpc/AddZtDomain" -H "Content-Type: application/json" \
      -d '{"domain":"'"$SRV_DOMAIN"'","port":443,"priority":100}' >/dev/null &&
      echo "  ZT-Domain added" || echo "  WARN: failed to add ZT-Domain"
  else
    echo "  ZT-Domain $SRV_DOMAIN already exists, skipping"
  fi
fi
echo "Bootstrap complete"
echo "Gateway Web UI: http://$ADMIN_ADDR"
