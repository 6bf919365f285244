#!/usr/bin/env bash
# test-probes.sh: checks made of HTTP and TCP probes (libcurl in the wizard's loop), against a
# real HTTP server on 127.0.0.1.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/cli/lib.sh"
C=(--chain "$top_srcdir/tests/chains/probes" --target local)
www="$TMP/www"
mkdir -p "$www"
printf '{"version": "0.5.5", "vms": [{"name": "kms", "boot_progress": "done"}]}\n' >"$www/version.json"
printf '<html><head><title>dstack Hello World</title></head></html>\n' >"$www/index.html"

# A free port: bind 0 and read what the kernel gave.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ok "the service port is a valid input" 'wiz 0 "${C[@]}" set service_port "$port"'
ok "with nothing listening, the check fails and says the connection was refused" \
	'wiz 1 "${C[@]}" check web && out_has "refused" && out_has "hint: Nothing listens"'
(cd "$www" && exec python3 -m http.server --bind 127.0.0.1 "$port" >/dev/null 2>&1) &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do
	python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.2)" 2>/dev/null && break
	sleep 0.1
done
ok "with the service up, every probe holds" \
	'wiz 0 "${C[@]}" check web && out_has "HTTP 200" && out_has "holds: .version == \"0.5.5\"" && out_has "connected to 127.0.0.1:$port" && out_has "web is done"'
printf '{"version": "0.5.4", "vms": [{"name": "kms", "boot_progress": "booting"}]}\n' >"$www/version.json"
ok "a failed JSON assertion fails the check and names the field" \
	'wiz 1 "${C[@]}" check web && out_has "\.version is \"0.5.4\", wanted \"0.5.5\"" && out_has "boot_progress is \"booting\""'
ok "status shows the first failing assertion" 'wiz 0 "${C[@]}" status && out_has "failed +web" && out_has "0.5.4"'
ok "the command shown before it runs describes the probe" \
	'wiz 1 "${C[@]}" --yes run web && out_has "\\$ \\[server\\] GET http://127.0.0.1:$port/version.json \\(expect 200\\)"' 
done_testing
