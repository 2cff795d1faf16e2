import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { signIn } from './sign-in.js';

interface FakePortal {
  url: string;
  server: Server;
  tokenRequests: Record<string, string>[];
}

/** A portal that signs everyone in at once: /sign-in redirects with a code, /api/client/token checks PKCE. */
async function fakePortal(options: { nonce?: (sent: string) => string; error?: string } = {}): Promise<FakePortal> {
  const challenges = new Map<string, { challenge: string; nonce: string; redirect: string }>();
  const tokenRequests: Record<string, string>[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/sign-in') {
      const q = Object.fromEntries(url.searchParams);
      const redirect = new URL(q.redirect_uri!);
      challenges.set('code-1', { challenge: q.code_challenge!, nonce: q.nonce!, redirect: q.redirect_uri! });
      redirect.search = new URLSearchParams(
        options.error ? { error: options.error, state: q.state! } : { code: 'code-1', state: q.state! },
      ).toString();
      res.writeHead(302, { location: redirect.toString() }).end();
      return;
    }
    if (url.pathname === '/api/client/token' && req.method === 'POST') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const request = JSON.parse(body) as Record<string, string>;
        tokenRequests.push(request);
        const issued = challenges.get(request.code!);
        const verified =
          issued &&
          issued.redirect === request.redirect_uri &&
          createHash('sha256').update(request.code_verifier!).digest('base64url') === issued.challenge;
        if (!verified) return res.writeHead(400).end(JSON.stringify({ error: 'invalid_grant', message: 'no' }));
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            token: 'client-token',
            expiresAt: 1,
            account: { id: 'a1', email: 'ann@corp.test' },
            nonce: options.nonce ? options.nonce(issued.nonce) : issued.nonce,
          }),
        );
      });
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, tokenRequests };
}

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** The "browser": follows the portal's redirect to our loopback callback. */
const browser = async (url: string) => {
  await fetch(url);
  return true;
};

describe('signIn', () => {
  it('runs the loopback flow with PKCE and returns the token', async () => {
    const portal = await fakePortal();
    const printed: string[] = [];
    const result = await signIn({ portalUrl: portal.url, openBrowser: browser, print: (t) => printed.push(t) });
    expect(result).toMatchObject({ token: 'client-token', account: { email: 'ann@corp.test' } });
    expect(portal.tokenRequests[0]!.redirect_uri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(portal.tokenRequests[0]!.code_verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(printed[0]).toContain(`${portal.url}/sign-in?redirect_uri=`);
  });

  it('prints the URL when no browser opens, and ignores a callback with the wrong state', async () => {
    const portal = await fakePortal();
    let signInUrl = '';
    const pending = signIn({
      portalUrl: portal.url,
      openBrowser: async (url) => ((signInUrl = url), false),
      print: () => {},
    });
    await new Promise((r) => setTimeout(r, 20));
    const redirect = new URL(new URL(signInUrl).searchParams.get('redirect_uri')!);
    const forged = await fetch(`${redirect}?code=code-1&state=forged`);
    expect(forged.status).toBe(400);
    await fetch(signInUrl); // the real browser visit
    await expect(pending).resolves.toMatchObject({ token: 'client-token' });
  });

  it('rejects a token response with another nonce', async () => {
    const portal = await fakePortal({ nonce: () => 'replayed-nonce' });
    await expect(signIn({ portalUrl: portal.url, openBrowser: browser, print: () => {} })).rejects.toThrow(/nonce/);
  });

  it('reports an error redirect from the portal', async () => {
    const portal = await fakePortal({ error: 'access_denied' });
    await expect(signIn({ portalUrl: portal.url, openBrowser: browser, print: () => {} })).rejects.toThrow(
      /access_denied/,
    );
  });

  it('gives up after the timeout', async () => {
    const portal = await fakePortal();
    await expect(
      signIn({ portalUrl: portal.url, openBrowser: async () => false, print: () => {}, timeoutMs: 50 }),
    ).rejects.toThrow(/timed out/);
  });
});
