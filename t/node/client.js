// A real WebSocket client built on the `ws` library, driven over stdin.
// Prints one JSON line per event on stdout.  Commands on stdin, one a line:
//   send <text>      send a text message
//   sendbig <bytes>  send one binary message of that size
//   ping <text>      send an application ping
//   close            close normally (1000)
//   push <bytes> <ms>  send a binary message of that size every ms ms
//   flood            send 64 KB binary messages as fast as the socket
//                    takes them
//   stoppush         stop pushing or flooding; say how many bytes it sent
//   slow <p> <r>     read in bursts: paused p ms, reading r ms
//
// A text message "end" from the peer makes the client say how many binary
// bytes it received before it.  A close frame is said as it arrives
// (closeframe), before the closing handshake ends (close).  --quiet leaves out the line per message.
//
//   node client.js --url ws://... [--ca file] [--no-pong] [--quiet]
//                  [--local address] [--header 'Name: value']...

'use strict';

const fs = require('fs');
const readline = require('readline');
const WebSocket = require('ws');
const load = require('./load');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf('--' + name);
  return i >= 0 ? args[i + 1] : def;
};
const flag = (name) => args.includes('--' + name);

const say = (o) => process.stdout.write(
  JSON.stringify(Object.assign(o, { t: Date.now() / 1000 })) + '\n');

const options = { autoPong: !flag('no-pong') };
if (opt('ca', null)) {
  options.ca = fs.readFileSync(opt('ca'));
}
if (flag('insecure')) {
  options.rejectUnauthorized = false;
}
if (opt('local', null)) {
  options.localAddress = opt('local');
}
args.forEach((a, i) => {
  if (a === '--header') {
    const h = args[i + 1];
    const colon = h.indexOf(':');
    options.headers = options.headers || {};
    // the bytes of UTF-8, as Node sends header values: one per character
    options.headers[h.slice(0, colon)] =
      Buffer.from(h.slice(colon + 1).trim(), 'utf8').toString('latin1');
  }
});

const ws = new WebSocket(opt('url'), options);
let received = 0;
let binary = 0;
const pusher = load.pusher(ws);

ws.on('open', () => {
  say({ event: 'open' });
  // the close frame's arrival, before the closing handshake ends
  ws._receiver.on('conclude', (code, reason) =>
    say({ event: 'closeframe', code, reason: reason.toString() }));
});
ws.on('ping', (data) => say({ event: 'ping', len: data.length,
                               hex: data.toString('hex') }));
ws.on('pong', (data) => say({ event: 'pong', len: data.length,
                               hex: data.toString('hex') }));
ws.on('message', (data, isBinary) => {
  received += data.length;
  if (isBinary) {
    binary += data.length;
  } else if (data.toString() === 'end') {
    say({ event: 'received', total: binary });
  }
  if (!flag('quiet')) {
    say({ event: 'message', len: data.length, total: received,
          text: data.length < 200 ? data.toString() : undefined });
  }
});
ws.on('close', (code, reason) => {
  say({ event: 'close', code, reason: reason.toString() });
  process.exit(0);
});
ws.on('error', (e) => say({ event: 'error', message: e.message }));

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const sp = line.indexOf(' ');
  const cmd = sp < 0 ? line : line.slice(0, sp);
  const arg = sp < 0 ? '' : line.slice(sp + 1);

  if (cmd === 'send') {
    ws.send(arg);
  } else if (cmd === 'sendbig') {
    ws.send(Buffer.alloc(Number(arg), 0x62));
  } else if (cmd === 'ping') {
    ws.ping(arg);
  } else if (cmd === 'close') {
    ws.close(1000, 'bye');
  } else if (cmd === 'slow') {
    const [p, r] = arg.split(' ').map(Number);
    load.slow(ws, p, r);
  } else if (cmd === 'sendmany') {
    // N binary messages of S bytes each, as fast as the socket takes them
    const [n, size] = arg.split(' ').map(Number);
    for (let i = 0; i < n; i++) {
      ws.send(Buffer.alloc(size, 0x63));
    }
    say({ event: 'queued', bytes: n * size });
  } else if (cmd === 'push') {
    const [size, ms] = arg.split(' ').map(Number);
    pusher.start(size, ms);
    say({ event: 'pushing' });
  } else if (cmd === 'flood') {
    pusher.start('flood');
    say({ event: 'pushing' });
  } else if (cmd === 'stoppush') {
    pusher.stop();
    say({ event: 'pushed', bytes: pusher.pushed() });
  } else if (cmd === 'pause') {
    ws._socket.pause();
  } else if (cmd === 'resume') {
    ws._socket.resume();
  }
});
