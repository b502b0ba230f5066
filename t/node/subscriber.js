// A subscriber of the status location's delta stream, over WebSocket
// (`ws`) or Server-Sent Events (node's http).  Prints one JSON line per
// event on stdout: {event:'message', data:<the message>, id, t}, and for
// SSE {event:'comment'} for each comment line.  Commands on stdin:
//   send <text>   a text frame (WebSocket)
//   close         a close frame (WebSocket)
//
//   node subscriber.js --url ws://.../status [--protocol p] [--no-pong]
//   node subscriber.js --url http://.../status --sse [--last-event-id N]
//       [--header 'Name: value']

'use strict';

const fs = require('fs');
const http = require('http');
const readline = require('readline');
const WebSocket = require('ws');

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf('--' + name);
  return i >= 0 ? args[i + 1] : def;
};
const flag = (name) => args.includes('--' + name);

// stdout through a stream: a pipe the test reads late must not block the
// event loop (and so the pongs)
const out = fs.createWriteStream('', { fd: 1 });
const say = (o) => out.write(
  JSON.stringify(Object.assign(o, { t: Date.now() / 1000 })) + '\n');
const exit = () => out.end(() => process.exit(0));

const headers = {};
if (opt('header', null)) {
  const h = opt('header');
  headers[h.slice(0, h.indexOf(':'))] = h.slice(h.indexOf(':') + 1).trim();
}

if (flag('sse')) {
  if (opt('last-event-id', null) !== null) {
    headers['Last-Event-ID'] = opt('last-event-id');
  }
  headers.Accept = 'text/event-stream';

  const req = http.get(opt('url'), { headers }, (res) => {
    say({ event: 'open', status: res.statusCode,
          type: res.headers['content-type'] });
    let buf = '';
    let id = null;
    let data = [];
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      buf += chunk;
      let nl;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === '') {
          if (data.length) {
            say({ event: 'message', id, data: JSON.parse(data.join('\n')) });
          }
          data = [];
        } else if (line.startsWith(':')) {
          say({ event: 'comment', text: line.slice(1).trim() });
        } else if (line.startsWith('id: ')) {
          id = line.slice(4);
        } else if (line.startsWith('data: ')) {
          data.push(line.slice(6));
        }
      }
    });
    res.on('end', () => { say({ event: 'close' }); exit(); });
  });
  req.on('error', (e) => { say({ event: 'error', message: e.message }); });

} else {
  const protocols = opt('protocol', null) ? [opt('protocol')] : [];
  const ws = new WebSocket(opt('url'), protocols,
                           { autoPong: !flag('no-pong'), headers });

  ws.on('open', () => say({ event: 'open', protocol: ws.protocol }));
  ws.on('unexpected-response', (req, res) => {
    say({ event: 'refused', status: res.statusCode });
    exit();
  });
  ws.on('ping', () => say({ event: 'ping' }));
  ws.on('message', (data) => {
    say({ event: 'message', data: JSON.parse(data.toString()) });
  });
  ws.on('close', (code, reason) => {
    say({ event: 'close', code, reason: reason.toString() });
    exit();
  });
  ws.on('error', (e) => say({ event: 'error', message: e.message }));

  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.startsWith('send ')) {
      ws.send(line.slice(5));
    } else if (line === 'close') {
      ws.close(1000, 'bye');
    }
  });
}
