#!/bin/sh
# Creates the secret files docker-compose.yml reads, if they are missing:
#   secret_key         Django SECRET_KEY (SECRET_KEY_FILE)
#   postgres_password  the PostgreSQL password (POSTGRES_PASSWORD_FILE)
#   database_url       DATABASE_URL with that password (DATABASE_URL_FILE)
# Existing files are kept, so running it twice changes nothing.  The files are
# mode 0644: compose mounts them as they are, and the app runs as uid 10001.
set -eu
cd "$(dirname "$0")"

random() {
    # $1 characters from [A-Za-z0-9], from the kernel's random source.
    LC_ALL=C tr -dc 'A-Za-z0-9' </dev/urandom | head -c "$1"
}

umask 022
if [ ! -f secret_key ]; then
    random 64 >secret_key
    echo "created deploy/secrets/secret_key"
fi
if [ ! -f postgres_password ] || [ ! -f database_url ]; then
    password=$(random 32)
    printf '%s' "$password" >postgres_password
    printf 'postgres://evrelease:%s@postgres:5432/evrelease' "$password" >database_url
    echo "created deploy/secrets/postgres_password and deploy/secrets/database_url"
fi
chmod 0644 secret_key postgres_password database_url
