// WebSockets in headless Chromium (Debian's /usr/bin/chromium through
// playwright-core), to see what a browser reports when a session ends.
// Prints one JSON line per event on stdout: {event:'ready'} once the
// browser runs, then {event:'open', n} and {event:'close', n, code,
// reason, wasClean} per socket, and {event:'message', n, text} per
// message (its first 4096 characters).  Commands on stdin, one a line:
//   open <n> <url>   opens socket n
//   send <n> <text>  sends a text message on it
//
//   node browser.js --page http://...   (a page of the same host: a page
//                                        off loopback may not reach it)

'use strict';

const readline = require('readline');
const { chromium } = require('playwright-core');

const say = (o) => process.stdout.write(
  JSON.stringify(Object.assign(o, { t: Date.now() / 1000 })) + '\n');

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
           '--disable-background-networking', '--disable-component-update',
           '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage();

  await page.exposeFunction('report', (o) => say(o));
  const args = process.argv.slice(2);
  await page.goto(args[args.indexOf('--page') + 1]);
  say({ event: 'ready' });

  const lines = readline.createInterface({ input: process.stdin });

  for await (const line of lines) {
    const [cmd, n, ...rest] = line.split(' ');
    const arg = rest.join(' ');

    if (cmd === 'open') {
      await page.evaluate(([n, url]) => {
        const ws = new WebSocket(url);
        (window.sockets = window.sockets || {})[n] = ws;
        ws.onopen = () => window.report({ event: 'open', n });
        ws.onmessage = (e) => window.report({ event: 'message', n,
                                              text: String(e.data)
                                                      .slice(0, 4096) });
        ws.onclose = (e) => window.report({ event: 'close', n, code: e.code,
                                            reason: e.reason,
                                            wasClean: e.wasClean });
      }, [n, arg]);
    } else if (cmd === 'send') {
      await page.evaluate(([n, text]) => window.sockets[n].send(text),
                          [n, arg]);
    }
  }

  await browser.close();
})().catch((e) => {
  say({ event: 'error', message: e.message });
  process.exit(1);
});
