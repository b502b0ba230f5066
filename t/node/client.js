// A real WebSocket client built on the `ws` library, driven over stdin.
// Prints one JSON line per event on stdout.  Commands on stdin, one a line:
//   send <text>      send a text message
//   sendbig <bytes>  send one binary message of that size
//   ping <text>      send an application ping
//   close            close normally (1000)
//   push <bytes> <ms>  send a binary message of that size every ms ms
//
//   node client.js --url ws://... [--ca file] [--no-pong] [--slow]
//                  [--local address] [--header 'Name: value']...

'use strict';

const fs = require('fs');
const readline = require('readline');
const WebSocket = require('ws');

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

ws.on('open', () => say({ event: 'open' }));
ws.on('ping', (data) => say({ event: 'ping', len: data.length,
                               hex: data.toString('hex') }));
ws.on('pong', (data) => say({ event: 'pong', len: data.length,
                               hex: data.toString('hex') }));
ws.on('message', (data) => {
  received += data.length;
  say({ event: 'message', len: data.length, total: received,
        text: data.length < 200 ? data.toString() : undefined });
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
    // read in short bursts: paused P ms, reading R ms, over and over
    const [p, r] = arg.split(' ').map(Number);
    const cycle = () => {
      ws._socket.pause();
      setTimeout(() => {
        ws._socket.resume();
        setTimeout(cycle, r);
      }, p);
    };
    cycle();
  } else if (cmd === 'sendmany') {
    // N binary messages of S bytes each, as fast as the socket takes them
    const [n, size] = arg.split(' ').map(Number);
    for (let i = 0; i < n; i++) {
      ws.send(Buffer.alloc(size, 0x63));
    }
    say({ event: 'queued', bytes: n * size });
  } else if (cmd === 'push') {
    const [size, ms] = arg.split(' ').map(Number);
    const chunk = Buffer.alloc(size, 0x70);
    setInterval(() => ws.send(chunk), ms);
    say({ event: 'pushing' });
  } else if (cmd === 'pause') {
    ws._socket.pause();
  } else if (cmd === 'resume') {
    ws._socket.resume();
  }
});
