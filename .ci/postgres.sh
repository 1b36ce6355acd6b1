# Start a throw-away PostgreSQL cluster on loopback for the distributed-search tests.
# Sourced by .ci/run; exports GRAPHHYPER_TEST_POSTGRES_URL when the server is up.
PG_PORT=${PG_PORT:-55432}
PG_DIR=${PG_DIR:-/tmp/graphhyper-ci-pg}

_pg_bin() {
  local b
  for b in /usr/lib/postgresql/*/bin; do [ -x "$b/initdb" ] && { echo "$b"; return 0; }; done
  return 1
}

start_postgres() {
  local bin
  if ! bin=$(_pg_bin); then
    if command -v apt-get >/dev/null; then
      (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) || return 1
      service postgresql stop >/dev/null 2>&1 || true
    fi
    bin=$(_pg_bin) || return 1
  fi
  id postgres >/dev/null 2>&1 || useradd -r -M postgres || return 1
  local as=(runuser -u postgres --)
  [ "$(id -u)" = 0 ] || as=()
  [ -f "$PG_DIR/data/postmaster.pid" ] && "${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1
  rm -rf "$PG_DIR"; mkdir -p "$PG_DIR"; chown postgres "$PG_DIR"
  "${as[@]}" "$bin/initdb" -D "$PG_DIR/data" -A trust -U postgres >/dev/null || return 1
  "${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_DIR -c max_connections=200" start >/dev/null || return 1
  "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres graphhyper_test || return 1
  export GRAPHHYPER_TEST_POSTGRES_URL="postgresql://postgres@127.0.0.1:$PG_PORT/graphhyper_test"
  echo "ci: PostgreSQL up at $GRAPHHYPER_TEST_POSTGRES_URL"
}

stop_postgres() {
  local bin
  bin=$(_pg_bin) || return 0
  [ -d "$PG_DIR/data" ] || return 0
  local as=(runuser -u postgres --)
  [ "$(id -u)" = 0 ] || as=()
  "${as[@]}" "$bin/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
}
