import { lookup } from 'node:dns/promises';
import { request } from 'node:http';

/**
 * A long-lived application for the NAT-reset test (seed 001): resolves a name once through the system resolver, as
 * an application does, then asks that address over HTTP every `intervalMs` for `durationMs` (a new connection each
 * time, with the name in Host) and never resolves again. One JSON line per event on stdout:
 *
 *   {"resolved":"100.96.0.4"}   {"at":1200,"ok":true,"server":"nas"}   {"at":1400,"ok":false,"error":"timeout"}   {"done":true}
 *
 *   node http-poller.js NAME INTERVAL_MS DURATION_MS TIMEOUT_MS
 */

const [name, intervalText, durationText, timeoutText] = process.argv.slice(2);
const intervalMs = Number(intervalText);
const durationMs = Number(durationText);
const timeoutMs = Number(timeoutText);
if (!name || !(intervalMs > 0) || !(durationMs > 0) || !(timeoutMs > 0)) {
  console.error('usage: http-poller NAME INTERVAL_MS DURATION_MS TIMEOUT_MS');
  process.exit(2);
}

const print = (event: object) => process.stdout.write(`${JSON.stringify(event)}\n`);

function get(address: string, started: number): Promise<void> {
  return new Promise((resolve) => {
    const at = Date.now() - started;
    const finish = (event: object) => {
      print({ at, ...event });
      resolve();
    };
    const req = request({
      host: address,
      port: 80,
      path: '/',
      headers: { host: name },
      agent: false,
      timeout: timeoutMs,
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        const server = /"server":"([^"]*)"/.exec(body)?.[1];
        finish(res.statusCode === 200 ? { ok: true, server } : { ok: false, error: `HTTP ${res.statusCode}` });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => finish({ ok: false, error: e.message }));
    req.end();
  });
}

const { address } = await lookup(name, { family: 4 });
print({ resolved: address });
const started = Date.now();
const inFlight: Promise<void>[] = [];
while (Date.now() - started < durationMs) {
  inFlight.push(get(address, started));
  await new Promise((r) => setTimeout(r, intervalMs));
}
await Promise.all(inFlight);
print({ done: true });
