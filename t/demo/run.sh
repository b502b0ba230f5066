#!/usr/bin/env bash
# Starts the demo: a `ws` echo upstream and nginx (prefix under build/demo,
# nothing outside the build directory is touched) with the module loaded.
#   t/demo/run.sh BUILD_DIR NGINX_BIN MODULE_SO
#   t/demo/run.sh --stop BUILD_DIR

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

if [ "${1:-}" = "--stop" ]; then
    d="$2/demo"
    [ -f "$d/nginx.pid" ] && kill -QUIT "$(cat "$d/nginx.pid")" 2>/dev/null || true
    [ -f "$d/upstream.pid" ] && kill "$(cat "$d/upstream.pid")" 2>/dev/null || true
    echo "demo stopped"
    exit 0
fi

build=$1
nginx=$2
module=$3
d="$build/demo"

"$0" --stop "$build" >/dev/null
sleep 0.3

# a port that is taken: an error if the variable named it, else the next
# free one up to 20 further, said so

taken() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick() {
    local var=$1 want=$2 p
    if [ -n "${!var:-}" ]; then
        if taken "$want"; then
            echo "port $want ($var) is taken; set $var to a free port" >&2
            exit 1
        fi
        echo "$want"
        return
    fi
    for p in $(seq "$want" $((want + 20))); do
        if ! taken "$p"; then
            [ "$p" = "$want" ] || echo "port $want is taken, using $p" \
                "(set $var to choose)" >&2
            echo "$p"
            return
        fi
    done
    echo "ports $want to $((want + 20)) are taken; set $var to a free" \
         "port" >&2
    exit 1
}

port=$(pick DEMO_PORT "${DEMO_PORT:-8080}")
app_port=$(pick DEMO_APP_PORT "${DEMO_APP_PORT:-9001}")
mkdir -p "$d/logs" "$d/html"
chmod 755 "$build" "$d" "$d/html"
cp "$here/index.html" "$d/html/index.html"
chmod 644 "$d/html/index.html"

sed -e "s#@MODULE@#$module#g" -e "s#@PREFIX@#$d#g" \
    -e "s#@PORT@#$port#g" -e "s#@APP_PORT@#$app_port#g" \
    "$here/nginx.conf.in" > "$d/nginx.conf"

nohup setsid node "$here/../node/server.js" --port "$app_port" \
    > "$d/logs/upstream.log" 2>&1 &
echo $! > "$d/upstream.pid"

"$nginx" -p "$d" -c "$d/nginx.conf"

for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        break
    fi
    sleep 0.1
done

cat <<EOF

  nginx with ngx_http_ws_heartbeat_module is running.

  Demo page (echo over WebSocket):  http://127.0.0.1:$port/
  WebSocket endpoint:               ws://127.0.0.1:$port/ws/
  From a terminal:                  node t/node/client.js --url ws://127.0.0.1:$port/ws/
                                    (type "send hi"; our pings show up every 5 s)

  Live dashboard:                   http://127.0.0.1:$port/status?format=html
  Status (JSON / Prometheus):       http://127.0.0.1:$port/status
                                    http://127.0.0.1:$port/status?format=prometheus
  Session deltas, live:             curl -N 'http://127.0.0.1:$port/status?format=sse'

  Pings every 5 s, zombie after 5 s of silence, idle close after 10 min.
  Access log (one line per session, with the close reason):
                                    $d/logs/ws.log
  Error log:                        $d/logs/error.log
  Stop:                             make -f Makefile.dev stop
EOF
