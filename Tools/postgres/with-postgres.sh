#!/usr/bin/env bash
# Runs a command with a PostgreSQL server of its own: a fresh cluster in a temporary directory,
# on 127.0.0.1 at a free port, password authentication (scram-sha-256) for the role `mie` of the
# database `mie`, then stops what it started (by its data directory) and removes it.
#   Tools/postgres/with-postgres.sh swift test --filter Postgres
# The command sees:
#   MIE_POSTGRES_URL            postgres://mie@127.0.0.1:PORT/mie (no password in it)
#   MIE_POSTGRES_PASSWORD_FILE  a file holding the role's password
#   MIE_POSTGRES_TLS_ROOT       the server's (self-signed) certificate, for sslmode=verify-full
#   MIE_POSTGRES_CTL            this script's control helper: `$MIE_POSTGRES_CTL stop|start|restart|freeze|thaw|psql|pg_dump|pg_restore|createdb`
# Needs Debian's postgresql package (its binaries under /usr/lib/postgresql/*/bin). Without it
# the command runs alone: under MIE_REQUIRE_ALL=1 (CI) the PostgreSQL suites then fail.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$bin" ] || [ ! -x "$bin/postgres" ]; then
  echo "with-postgres: PostgreSQL is not installed (apt-get install postgresql); running the command without it" >&2
  exec "$@"
fi
state=$(mktemp -d /tmp/mie-postgres.XXXXXX)
chmod 755 "$state"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
password=$(python3 -c 'import secrets; print(secrets.token_urlsafe(18))')
printf '%s\n' "$password" > "$state/password"
chmod 600 "$state/password"
# The server refuses to run as root: as root, the cluster belongs to the postgres user.
as_owner=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  as_owner=(runuser -u postgres --)
fi
mkdir -p "$state/data" "$state/socket" "$state/log"
[ "$(id -u)" = 0 ] && chown -R postgres "$state/data" "$state/socket" "$state/log"
printf '%s\n' "$password" > "$state/pwfile"
[ "$(id -u)" = 0 ] && chown postgres "$state/pwfile"
"${as_owner[@]}" "$bin/initdb" -D "$state/data" -U mie --pwfile="$state/pwfile" --auth=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$state/initdb.log" 2>&1 \
  || { cat "$state/initdb.log" >&2; exit 1; }
rm -f "$state/pwfile"
# TLS offered (plain TCP too): a self-signed certificate for 127.0.0.1, its copy as the root a
# client verifies against.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=127.0.0.1" \
  -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$state/data/server.key" -out "$state/data/server.crt" >/dev/null 2>&1 \
  || { echo "with-postgres: openssl could not make the server certificate" >&2; exit 1; }
chmod 600 "$state/data/server.key"
[ "$(id -u)" = 0 ] && chown postgres "$state/data/server.key" "$state/data/server.crt"
cp "$state/data/server.crt" "$state/root.crt"
cat >> "$state/data/postgresql.conf" <<CONF
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'

listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$state/socket'
max_connections = 200
fsync = on
synchronous_commit = on
CONF
cat > "$state/ctl" <<CTL
#!/usr/bin/env bash
# Controls the server of with-postgres.sh ($state).
case "\$1" in
  stop) ${as_owner[*]} "$bin/pg_ctl" -D "$state/data" -m fast -w stop >/dev/null ;;
  start) ${as_owner[*]} "$bin/pg_ctl" -D "$state/data" -l "$state/log/server.log" -w start >/dev/null ;;
  restart) ${as_owner[*]} "$bin/pg_ctl" -D "$state/data" -m fast -l "$state/log/server.log" -w restart >/dev/null ;;
  # Every server process stopped in place (SIGSTOP) and resumed: a database that hangs, not one that refuses.
  freeze|thaw) main=\$(head -1 "$state/data/postmaster.pid"); sig=STOP; [ "\$1" = thaw ] && sig=CONT
    kill -\$sig \$main \$(pgrep -P \$main) ;;
  pg_dump|pg_restore|createdb) tool=\$1; shift; PGPASSWORD="$password" "$bin/\$tool" -h 127.0.0.1 -p $port -U mie "\$@" ;;
  psql) shift; PGPASSWORD="$password" "$bin/psql" -h 127.0.0.1 -p $port -U mie -d mie -v ON_ERROR_STOP=1 "\$@" ;;
  *) echo "usage: \$0 stop|start|restart|freeze|thaw|psql|pg_dump|pg_restore|createdb [args]" >&2; exit 2 ;;
esac
CTL
chmod 755 "$state/ctl"
cleanup() {
  [ -f "$state/data/postmaster.pid" ] && "$state/ctl" thaw 2>/dev/null
  "${as_owner[@]}" "$bin/pg_ctl" -D "$state/data" -m immediate -w stop >/dev/null 2>&1
  rm -rf "$state"
}
trap cleanup EXIT
"$state/ctl" start || { cat "$state/log/server.log" >&2; exit 1; }
PGPASSWORD="$password" "$bin/createdb" -h 127.0.0.1 -p "$port" -U mie mie || exit 1
echo "with-postgres: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($state)"
export MIE_POSTGRES_URL="postgres://mie@127.0.0.1:$port/mie"
export MIE_POSTGRES_PASSWORD_FILE="$state/password"
export MIE_POSTGRES_CTL="$state/ctl"
export MIE_POSTGRES_TLS_ROOT="$state/root.crt"
"$@"
