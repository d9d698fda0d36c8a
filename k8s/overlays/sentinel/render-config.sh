#!/bin/sh
# Writes redis.conf and sentinel.conf for this pod into $1, the directory its containers share.
# The primary is the one the running sentinels name; when none answers (the first start, or every
# pod restarted at once) it is pod 0. Everything goes by the headless Service's names: pod IPs
# change on every restart, the names don't.
set -euf
out="$1"
: "${POD_NAME:?}" "${MASTER_NAME:?}"
: "${REDIS_PASSWORD:?must be a key of the copilot-gateway Secret}"
: "${REDIS_SENTINEL_PASSWORD:?must be a key of the copilot-gateway Secret}"
set_name="${POD_NAME%-*}" # the StatefulSet, and its Service of the same name
self="$POD_NAME.$set_name"

primary=""
# The three pods of redis.yaml; any sentinel that answers knows the primary.
for i in 0 1 2; do
  peer="$set_name-$i.$set_name"
  if [ "$peer" = "$self" ] || [ -n "$primary" ]; then continue; fi
  reply=$(REDISCLI_AUTH="$REDIS_SENTINEL_PASSWORD" timeout 3 \
    redis-cli -h "$peer" -p 26379 sentinel get-master-addr-by-name "$MASTER_NAME" 2>/dev/null) || continue
  # An answer is two lines, host and port; an error or nil is not one.
  set -- $reply
  if [ "$#" -eq 2 ] && [ "$2" = 6379 ]; then primary="$1"; fi
done
primary="${primary:-$set_name-0.$set_name}"

cat > "$out/redis.conf" <<CONF
port 6379
dir /data
appendonly yes
maxmemory-policy noeviction
requirepass "$REDIS_PASSWORD"
masterauth "$REDIS_PASSWORD"
replica-announce-ip $self
CONF
if [ "$primary" != "$self" ]; then echo "replicaof $primary 6379" >> "$out/redis.conf"; fi

cat > "$out/sentinel.conf" <<CONF
port 26379
sentinel resolve-hostnames yes
sentinel announce-hostnames yes
sentinel announce-ip $self
requirepass "$REDIS_SENTINEL_PASSWORD"
sentinel sentinel-pass "$REDIS_SENTINEL_PASSWORD"
sentinel monitor $MASTER_NAME $primary 6379 2
sentinel auth-pass $MASTER_NAME "$REDIS_PASSWORD"
sentinel down-after-milliseconds $MASTER_NAME 5000
sentinel failover-timeout $MASTER_NAME 30000
sentinel parallel-syncs $MASTER_NAME 1
CONF
echo "$self: primary is $primary"
