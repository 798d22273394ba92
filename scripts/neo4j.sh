#!/usr/bin/env bash
# Installs and runs a local Neo4j Community server from Maven Central's jars.
#
#   scripts/neo4j.sh install            resolve the server's jars into the cache
#   scripts/neo4j.sh lib                install, then print the folder of the jars
#   scripts/neo4j.sh start NAME PORT    start instance NAME with Bolt on 127.0.0.1:PORT and HTTP
#                                       (Neo4j Browser at /browser/) on PORT+1 (idempotent)
#   scripts/neo4j.sh stop NAME          stop instance NAME
#   scripts/neo4j.sh password NAME      print the instance's password
#   scripts/neo4j.sh port NAME          print the Bolt port the instance was started on
#   scripts/neo4j.sh home NAME          print the instance's folder
#   scripts/neo4j.sh destroy NAME       stop the instance and delete its data
#
# There is no Docker engine and no tarball on Maven Central, so we run the
# server's own entry point (org.neo4j.server.CommunityEntryPoint, what the
# distribution's bin/neo4j starts) over the jars that the
# neo4j-community-standalone assembly depends on, plus Neo4j Browser and
# cypher-shell (scripts/neo4j/pom.xml).
# Everything lives outside git, under $MULTICONTACT_CACHE.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's:.*<neo4j.version>\(.*\)</neo4j.version>.*:\1:p' "$here/neo4j/pom.xml")
cache=${MULTICONTACT_CACHE:-$HOME/.cache/multicontact}
lib=$cache/neo4j-$version/lib
java=${NEO4J_JAVA:-java}

log() { echo "neo4j.sh: $*" >&2; }

# lib/.complete holds the checksum of the pom.xml it was installed from: a
# jar added to the pom (as Neo4j Browser was) is added to an existing cache.
install() {
	local stamp; stamp=$(sha256sum "$here/neo4j/pom.xml" | cut -d' ' -f1)
	if [ -f "$lib/.complete" ] && [ "$(cat "$lib/.complete")" = "$stamp" ]; then return; fi
	command -v mvn >/dev/null || { log "mvn is needed to fetch Neo4j $version from Maven Central"; exit 1; }
	if [ -f "$lib/.complete" ]; then
		# Servers may be running from these jars: copy only the missing ones,
		# never overwrite one in use.
		log "adding the jars that scripts/neo4j/pom.xml now names to $lib"
	else
		log "installing Neo4j Community $version into $lib"
		rm -rf "$lib" && mkdir -p "$lib"
	fi
	mvn -q -B -f "$here/neo4j/pom.xml" dependency:copy-dependencies \
		-DoutputDirectory="$lib" -DexcludeTypes=pom \
		-DoverWriteReleases=false -DoverWriteSnapshots=false -DoverWriteIfNewer=false >&2
	echo "$stamp" >"$lib/.complete"
}

home_of() { echo "$cache/instances/$1"; }

running() { # NAME -> 0 when its Neo4j is alive; a stale pid file (after a reboot) may name another process
	local home pid; home=$(home_of "$1")
	[ -f "$home/run/neo4j.pid" ] || return 1
	pid=$(cat "$home/run/neo4j.pid")
	kill -0 "$pid" 2>/dev/null || return 1
	[ ! -r "/proc/$pid/cmdline" ] || tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "--home-dir=$home"
}

bolt_open() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

port_of() { cat "$(home_of "$1")/run/port" 2>/dev/null || echo unknown; } # the Bolt port it was started on

start() {
	local name=$1 port=$2 home; home=$(home_of "$name")
	install
	if running "$name"; then
		log "instance $name already running on port $(port_of "$name")"
		if [ "$lib/.complete" -nt "$home/run/neo4j.pid" ]; then
			log "instance $name was started before jars were added (e.g. Neo4j Browser); restart it to load them: $0 stop $name"
		fi
		return
	fi
	mkdir -p "$home/conf" "$home/run" "$home/logs"
	if bolt_open "$port"; then log "port $port is taken by another process"; exit 1; fi
	if bolt_open $((port + 1)); then log "port $((port + 1)) (the server's HTTP port) is taken by another process"; exit 1; fi
	cat >"$home/conf/neo4j.conf" <<CONF
server.default_listen_address=127.0.0.1
server.bolt.listen_address=127.0.0.1:$port
server.http.listen_address=127.0.0.1:$((port + 1))
server.https.enabled=false
server.memory.heap.initial_size=${NEO4J_HEAP:-512m}
server.memory.heap.max_size=${NEO4J_HEAP:-512m}
server.memory.pagecache.size=${NEO4J_PAGECACHE:-256m}
dbms.memory.transaction.total.max=${NEO4J_TX_MEMORY:-256m}
dbms.usage_report.enabled=false
db.lock.acquisition.timeout=30s
CONF
	# More settings, one per line, e.g. the query log while profiling:
	# NEO4J_CONF_EXTRA=$'db.logs.query.threshold=0s\ndb.logs.query.time_logging_enabled=true'
	if [ -n "${NEO4J_CONF_EXTRA:-}" ]; then printf '%s\n' "$NEO4J_CONF_EXTRA" >>"$home/conf/neo4j.conf"; fi
	if [ ! -f "$home/password" ]; then
		# A fresh password per instance; it never leaves the instance's folder.
		# It is kept only once Neo4j took it: a first start cut short sets
		# one again next time, instead of keeping one the server never had.
		local password; password=$(head -c 18 /dev/urandom | base64 | tr -dc 'a-zA-Z0-9')
		if ! NEO4J_HOME=$home NEO4J_CONF=$home/conf "$java" -cp "$lib/*" org.neo4j.cli.AdminTool \
			dbms set-initial-password "$password" >"$home/logs/admin.log" 2>&1; then
			log "could not set the instance's password; see $home/logs/admin.log"
			tail -n 20 "$home/logs/admin.log" >&2
			exit 1
		fi
		printf '%s' "$password" >"$home/password.new" && mv "$home/password.new" "$home/password"
	fi
	log "starting instance $name (Neo4j $version) on bolt://127.0.0.1:$port, Neo4j Browser on http://127.0.0.1:$((port + 1))/browser/"
	(
		cd "$home"
		NEO4J_HOME=$home NEO4J_CONF=$home/conf exec setsid "$java" \
			-Xms"${NEO4J_HEAP:-512m}" -Xmx"${NEO4J_HEAP:-512m}" -XX:+UseG1GC \
			-cp "$lib/*" org.neo4j.server.CommunityEntryPoint \
			--home-dir="$home" --config-dir="$home/conf" >"$home/logs/console.log" 2>&1 &
		echo $! >"$home/run/neo4j.pid"
	)
	echo "$port" >"$home/run/port"
	for _ in $(seq 1 120); do
		if bolt_open "$port"; then return; fi
		if ! running "$name"; then log "Neo4j exited; see $home/logs"; tail -n 30 "$home/logs/console.log" >&2; exit 1; fi
		sleep 0.5
	done
	log "Neo4j did not open Bolt within 60s; see $home/logs"; exit 1
}

stop() {
	local name=$1 pidfile; pidfile=$(home_of "$name")/run/neo4j.pid
	running "$name" || return 0
	local pid; pid=$(cat "$pidfile")
	kill "$pid"
	for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return; }; sleep 0.5; done
	kill -9 "$pid" 2>/dev/null || true
	rm -f "$pidfile"
}

case "${1:-}" in
install) install ;;
lib) install; echo "$lib" ;;
start) start "$2" "$3" ;;
stop) stop "$2" ;;
password) cat "$(home_of "$2")/password" ;;
port) port_of "$2" ;;
home) home_of "$2" ;;
destroy) stop "$2"; rm -rf "$(home_of "$2")" ;;
*) echo "usage: $0 install | lib | start NAME PORT | stop NAME | password NAME | port NAME | home NAME | destroy NAME" >&2; exit 2 ;;
esac
