#!/usr/bin/env bash
# The finish screen (issue 17): when the last step is done it shows what was built and where
# to reach it, from the values the steps captured: the KMS's URLs, the contracts with their
# Sepolia explorer pages, the gateway, the hello-world app's URL, the attestation verdict, and
# what to do next. F opens it at any time; n on the last step too.
. "${top_srcdir:-$(dirname "$0")/../..}/tests/tui/lib.sh"

C=(--chain "$top_srcdir/tests/chains/finish")
KMS=0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed

t_early() {
	start 120 40 -- "${C[@]}" && wait_for "0/6 done" && keys F &&
		wait_for "Not every step is done yet" && has "KMS RPC" &&
		has "https://kms.example.org:8083" && has "(kms-cvm-deployment is not done)" &&
		has "DstackKms contract           not known yet" && has "not verified yet" &&
		has "6 steps are not done yet; the next is contract-deploy" &&
		keys Escape && wait_for "0/6 done"
}
ok "F shows the finish early: what is known so far, what is not, and the next step" t_early

t_finish() {
	keys R && wait_for "Every step is done." && has "What was built, and where to reach it" &&
		has "KMS RPC                      https://kms.example.org:8083" &&
		has "KMS auth-api                 http://127.0.0.1:8084/" &&
		has "on the server only (loopback)" &&
		has "DstackKms contract           $KMS" &&
		has "https://sepolia.etherscan.io/address/$KMS" &&
		has "DstackApp implementation     0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359" &&
		has "Gateway RPC                  https://gateway.example.org:9202" &&
		has "Gateway app URLs             https://<app id>.example.org:9204/" &&
		has "Hello-world app URL          https://d1220a0cf47c7b9be7a2e6ba89f429762e7b9adb.example.org:9204/" &&
		has "Attestation                  verified" &&
		has "Open https://d1220a0cf47c7b9be7a2e6ba89f429762e7b9adb.example.org:9204/" &&
		lacks "not known yet"
}
ok "when the last step is done the finish opens: URLs, addresses with explorer links, verdict" \
	t_finish

t_back_and_n() {
	keys Escape && wait_for "6/6 done" && keys G && wait_for "▸ ✓ attestation-verification" &&
		keys n && wait_for "Every step is done." && keys q && wait_for "[exit 0]"
}
ok "Esc goes back to the overview; n on the last step opens the finish again" t_back_and_n

t_cli() {
	headless "${C[@]}" summary --json &&
		jq -e --arg k "$KMS" '.built.kms_contract.value == $k and
		    .built.kms_contract.explorer == "https://sepolia.etherscan.io/address/" + $k and
		    .built.attestation.status == "done" and .done == 6' "$TMP/out" >/dev/null
}
ok "summary --json gives the same, with the explorer links" t_cli

done_testing
