// A real WebSocket upstream built on the `ws` library.
// Prints one JSON line per event on stdout; the first is {"event":"ready"}.
//
//   node server.js --port N [--tls cert,key] [--mode echo|stream|silent]
//                  [--no-pong] [--push BYTES,MS] [--quiet]
//
// --push sends every session a binary message of BYTES every MS ms; a
// session's URL may ask for its own: ?push=BYTES,MS, or ?push=flood for
// 64 KB messages as fast as the socket takes them.  ?slow=P,R makes the
// session read in bursts: paused P ms, reading R ms, over and over;
// ?close=MS sends it a close frame 1000 after MS ms.  A
// text message "die" makes the server drop that session's socket without
// a close frame; "stop" ends the pushing (the server says how many bytes
// it pushed, and sends the text "end" after them); "report" makes the
// server say how many binary bytes it received before it.  --quiet leaves
// out the line per message.

'use strict';

const fs = require('fs');
const http = require('http');
const https = require('https');
const { WebSocketServer } = require('ws');
const load = require('./load');

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
  // the close frame's arrival, before the closing handshake ends
  ws._receiver.on('conclude', (code, reason) =>
    say({ event: 'closeframe', id, code, reason: reason.toString() }));

  let total = 0;
  let binary = 0;
  const pusher = load.pusher(ws);
  const query = new URL(req.url, 'http://x').searchParams;
  const push = query.get('push') || opt('push', null);
  if (push === 'flood') {
    pusher.start('flood');
  } else if (push) {
    pusher.start(...push.split(',').map(Number));
  }
  const pause = Number(opt('pause-ms', '0'));
  if (pause) {
    ws._socket.pause();
    setTimeout(() => ws._socket.resume(), pause);
  }
  if (query.get('close')) {
    // the application ends the session: a close frame, then it waits
    setTimeout(() => {
      ws.close(1000, 'bye');
      say({ event: 'closing', id });
    }, Number(query.get('close')));
  }
  if (query.get('slow')) {
    load.slow(ws, ...query.get('slow').split(',').map(Number));
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
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      binary += data.length;
    }
    if (!isBinary && data.length === 3 && data.toString() === 'die') {
      // the process's end, as far as the peer can tell: no close frame
      ws._socket.destroy();
      return;
    }
    if (!isBinary && data.toString() === 'stop') {
      pusher.stop();
      ws.send('end');
      say({ event: 'pushed', id, bytes: pusher.pushed() });
      return;
    }
    if (!isBinary && data.toString() === 'report') {
      say({ event: 'received', id, total: binary });
      return;
    }
    if (!flag('count') && !flag('quiet')) {
      say({ event: 'message', id, len: data.length });
    }
    if (mode === 'echo') {
      ws.send(data, { binary: isBinary });
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
