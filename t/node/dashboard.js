// Drives the status page's dashboard in headless Chromium (Debian's
// /usr/bin/chromium through playwright-core).  Prints one JSON line per
// answer on stdout; commands on stdin, one a line:
//   text <css selector>            the element's text (selectors have no
//                                  spaces: use ">")
//   rows <css selector>            data-* of every matching element
//   html <css selector>            the element's inner HTML
//   wait <css selector> <text>     waits (10 s) until the element reads so
//   click <css selector>
//   screenshot <path>
//
//   node dashboard.js --url http://.../status?format=html#token=...

'use strict';

const readline = require('readline');
const { chromium } = require('playwright-core');

const args = process.argv.slice(2);
const url = args[args.indexOf('--url') + 1];

const say = (o) => process.stdout.write(
  JSON.stringify(Object.assign(o, { t: Date.now() / 1000 })) + '\n');

(async () => {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  const page = await browser.newPage({ viewport: { width: 1200, height: 800 } });

  page.on('console', (m) => say({ event: 'console', type: m.type(),
                                  text: m.text() }));
  page.on('pageerror', (e) => say({ event: 'pageerror', text: e.message }));

  const response = await page.goto(url);
  say({ event: 'loaded', status: response.status() });

  const lines = readline.createInterface({ input: process.stdin });

  for await (const line of lines) {
    const [cmd, sel, ...rest] = line.split(' ');
    try {
      if (cmd === 'text') {
        say({ event: 'text', text: await page.textContent(sel) });
      } else if (cmd === 'html') {
        say({ event: 'html', html: await page.innerHTML(sel) });
      } else if (cmd === 'rows') {
        const rows = await page.$$eval(sel, (els) =>
          els.map((e) => Object.assign({}, e.dataset)));
        say({ event: 'rows', rows });
      } else if (cmd === 'wait') {
        const want = rest.join(' ');
        await page.waitForFunction(([s, w]) => {
          const e = document.querySelector(s);
          return e && e.textContent === w;
        }, [sel, want], { timeout: 10000 });
        say({ event: 'waited', ok: true });
      } else if (cmd === 'fill') {
        await page.fill(sel, rest.join(' '));
        say({ event: 'filled' });
      } else if (cmd === 'click') {
        await page.click(sel);
        say({ event: 'clicked' });
      } else if (cmd === 'screenshot') {
        await page.screenshot({ path: sel, fullPage: true });
        say({ event: 'screenshot', path: sel });
      } else if (cmd === 'quit') {
        break;
      }
    } catch (e) {
      say({ event: 'failed', command: cmd, message: e.message.split('\n')[0] });
    }
  }

  await browser.close();
  process.exit(0);
})().catch((e) => {
  say({ event: 'error', message: e.message });
  process.exit(1);
});
