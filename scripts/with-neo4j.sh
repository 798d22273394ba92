#!/usr/bin/env bash
# Runs a command with NEO4J_URI/NEO4J_USER/NEO4J_PASSWORD pointing at a Neo4j.
#
#   scripts/with-neo4j.sh test CMD...   a throw-away instance, stopped and removed afterwards
#   scripts/with-neo4j.sh bench CMD...  the same, with the memory of NEO4J_HEAP and NEO4J_PAGECACHE
#   scripts/with-neo4j.sh dev CMD...    the long-lived local instance (left running)
#
# It exports NEO4J_DATA_DIR (the instance's data folder) for the benchmark
# and NEO4J_HTTP_URL (the server's HTTP port, Bolt's + 1: Neo4j Browser is at
# its /browser/) for the test that opens the Browser.
#
# When NEO4J_URI is already set, that server is used and nothing is started.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=$1; shift

if [ -n "${NEO4J_URI:-}" ]; then exec "$@"; fi

free_port() { # first port from $1 on with it and the next one free
	local p=$1
	while (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null || (echo >"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null; do p=$((p + 2)); done
	echo "$p"
}

case "$mode" in
test | bench)
	name=$mode-$$
	port=$(free_port 17687)
	# Tests that start servers of their own name them after this one
	# (MULTICONTACT_TEST_INSTANCE-...): a test binary killed by a timeout or
	# an interrupt runs no cleanup, so they are removed here too.
	export MULTICONTACT_TEST_INSTANCE=$name
	cleanup() {
		local home
		for home in "$("$here/neo4j.sh" home "$name")" "$("$here/neo4j.sh" home "$name")"-*; do
			[ -d "$home" ] && "$here/neo4j.sh" destroy "$(basename "$home")"
		done
		return 0
	}
	trap cleanup EXIT
	;;
dev)
	name=dev
	port=${NEO4J_DEV_PORT:-7687}
	;;
*) echo "usage: $0 test|bench|dev CMD..." >&2; exit 2 ;;
esac

"$here/neo4j.sh" start "$name" "$port"
# An instance already running keeps the port it was started on.
if started=$("$here/neo4j.sh" port "$name") && [ "$started" != unknown ]; then port=$started; fi
export NEO4J_URI=bolt://127.0.0.1:$port NEO4J_USER=neo4j NEO4J_HTTP_URL=http://127.0.0.1:$((port + 1))
NEO4J_PASSWORD=$("$here/neo4j.sh" password "$name")
export NEO4J_PASSWORD
NEO4J_DATA_DIR=$("$here/neo4j.sh" home "$name")/data
export NEO4J_DATA_DIR
if [ "$mode" = dev ]; then exec "$@"; else "$@"; fi
