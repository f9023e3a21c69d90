// Drives one headless Chromium page for the Python tests, over JSON lines on stdin/stdout.
//
//   node driver.mjs <console dir> <user data dir> <chromium executable> [<width>x<height>]
//
// The page is 1280x800 unless a size is given; widths under 600 get a touch screen, like a phone.
//
// Requests:  {"id": 1, "op": "goto" | "click" | "fill" | "press" | "script" | "eval" | "screenshot" | "close", ...}
// Replies:   {"id": 1, "result": ...} or {"id": 1, "error": "..."}
// Events:    {"event": "ready" | "console" | "pageerror" | "crash", ...}
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const [consoleDir, userDataDir, executablePath, size = '1280x800'] = process.argv.slice(2);
const [width, height] = size.split('x').map(Number);
const phone = width < 600;
const require = createRequire(join(consoleDir, 'package.json'));
const { chromium } = require('playwright-core');

const send = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);

const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  viewport: { width, height },
  hasTouch: phone,
  isMobile: phone,
  args: [
    '--no-sandbox', // we run as root in CI containers
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    // Without these Chromium phones home, and the closed test network refuses its connections.
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--autoplay-policy=no-user-gesture-required',
  ],
});
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(10000);
page.on('console', (msg) => send({ event: 'console', type: msg.type(), text: msg.text() }));
page.on('pageerror', (err) => send({ event: 'pageerror', text: String(err?.stack ?? err) }));
page.on('crash', () => send({ event: 'crash' }));

const ops = {
  goto: ({ url }) => page.goto(url).then(() => null),
  click: ({ selector }) => page.click(selector).then(() => null),
  fill: ({ selector, value }) => page.fill(selector, value).then(() => null),
  // Key presses in a row on one element (as fast as a held-down key repeats, or faster).
  press: async ({ selector, key, times }) => {
    for (let i = 0; i < (times ?? 1); i += 1) await page.press(selector, key);
    return null;
  },
  // Evaluated rather than added as a script tag: the console's Content-Security-Policy
  // (rightly) refuses inline scripts.
  script: async ({ path }) => {
    await page.evaluate(readFileSync(path, 'utf8'));
    return null;
  },
  eval: ({ expression }) => page.evaluate(expression),
  screenshot: ({ path, fullPage }) => page.screenshot({ path, fullPage: Boolean(fullPage) }).then(() => null),
};

send({ event: 'ready', version: context.browser()?.version() ?? '' });

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const request = JSON.parse(line);
  if (request.op === 'close') {
    await context.close();
    send({ id: request.id, result: null });
    process.exit(0);
  }
  const op = ops[request.op];
  try {
    if (!op) throw new Error(`unknown op ${request.op}`);
    send({ id: request.id, result: (await op(request)) ?? null });
  } catch (err) {
    send({ id: request.id, error: String(err?.message ?? err) });
  }
}
// stdin closed: the test went away; take the browser with us.
await context.close().catch(() => {});
process.exit(0);
