#!/usr/bin/env bash
# The dependency gate: `npm audit` for high and critical advisories, production and dev trees.
# A finding fails (exit 1). A registry that does not serve the advisory endpoint (some mirrors
# answer 405) cannot prove anything either way: that is said loudly and exits 3, so a caller
# can tell "clean" from "unknown". docs/dependency-review.md holds the last review by hand.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
npm audit --audit-level=high --json >"$out" 2>/dev/null
rc=$?
if grep -q '"statusCode": *40[0-9]\|"statusCode": *5[0-9][0-9]\|audit endpoint returned an error' "$out"; then
  echo "!!! npm audit UNAVAILABLE: the registry did not answer the advisory endpoint ($(grep -o '"message": *"[^"]*"' "$out" | head -1))." >&2
  echo "!!! Dependencies went UNAUDITED here; see docs/dependency-review.md for the last review by hand." >&2
  exit 3
fi
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const v = (r.metadata && r.metadata.vulnerabilities) || {};
  console.log(`npm audit: critical ${v.critical ?? 0}, high ${v.high ?? 0}, moderate ${v.moderate ?? 0}, low ${v.low ?? 0}`);
' "$out"
exit "$rc"
