// A real WebSocket upstream built on the `ws` library.
// Prints one JSON line per event on stdout; the first is {"event":"ready"}.
//
//   node server.js --port N [--tls cert,key] [--mode echo|stream|silent]
//                  [--no-pong] [--push BYTES,MS]
//
// --push sends every session a binary message of BYTES every MS ms.  A
// text message "die" makes the server drop that session's socket without
// a close frame.

'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const { WebSocketServer } = require('ws');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf('--' + name);
  return i >= 0 ? args[i + 1] : def;
};
const flag = (name) => args.includes('--' + name);

const port = Number(opt('port', '0'));
const mode = opt('mode', 'echo');
const tls = opt('tls', null);

const say = (o) => process.stdout.write(
  JSON.stringify(Object.assign(o, { t: Date.now() / 1000 })) + '\n');

const server = tls
  ? https.createServer({
      cert: fs.readFileSync(tls.split(',')[0]),
      key: fs.readFileSync(tls.split(',')[1]),
    })
  : http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('plain http\n');
    });

const wss = new WebSocketServer({ server, autoPong: !flag('no-pong') });
let next = 0;

wss.on('connection', (ws, req) => {
  const id = ++next;
  say({ event: 'open', id, url: req.url });

  let total = 0;
  if (opt('push', null)) {
    const [bytes, ms] = opt('push').split(',').map(Number);
    const chunk = Buffer.alloc(bytes, 0x70);
    const timer = setInterval(() => ws.send(chunk), ms);
    ws.on('close', () => clearInterval(timer));
  }
  const pause = Number(opt('pause-ms', '0'));
  if (pause) {
    ws._socket.pause();
    setTimeout(() => ws._socket.resume(), pause);
  }
  ws.on('message', (data) => {
    total += data.length;
    if (flag('count')) {
      say({ event: 'total', id, total });
    }
  });

  ws.on('ping', (data) => say({ event: 'ping', id, len: data.length,
                                 hex: data.toString('hex') }));
  ws.on('pong', (data) => say({ event: 'pong', id, len: data.length,
                                 hex: data.toString('hex') }));
  ws.on('message', (data, binary) => {
    if (data.length === 3 && data.toString() === 'die') {
      // the process's end, as far as the peer can tell: no close frame
      ws._socket.destroy();
      return;
    }
    if (!flag('count')) {
      say({ event: 'message', id, len: data.length });
    }
    if (mode === 'echo') {
      ws.send(data, { binary });
    }
    if (mode === 'stream') {
      // answer "N" with N bytes in 64 KB messages
      let left = Number(data.toString());
      const chunk = Buffer.alloc(65536, 0x61);
      while (left > 0) {
        ws.send(left >= chunk.length ? chunk : chunk.subarray(0, left));
        left -= chunk.length;
      }
    }
  });
  ws.on('close', (code, reason) =>
    say({ event: 'close', id, code, reason: reason.toString() }));
  ws.on('error', (e) => say({ event: 'error', id, message: e.message }));
});

server.listen(port, '127.0.0.1', () => {
  say({ event: 'ready', port: server.address().port });
});
