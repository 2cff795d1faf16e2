import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { TokenResponse } from '../../protocol/portal-http.js';
import { BASE_YAML, describeEngines, startTestPortal, type TestPortal } from '../../portal/testing/fixture.js';
import { registeredClient } from '../../portal/testing/peers.js';
import { signInRequest } from '../../portal/testing/sign-in.js';

// The sign-in as a user sees it: Debian's chromium, driven by playwright-core, through the portal's pages (and a
// real OIDC provider's), ending in the loopback redirect a CLI listens for.

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

let browser: Browser | undefined;
beforeAll(async () => {
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}, 60_000);
afterAll(async () => browser?.close());

/** A loopback listener like the CLI's: resolves with the query of the first request to /callback. */
async function loopbackListener(): Promise<{ redirectUri: string; callback: Promise<URLSearchParams>; close(): void }> {
  let deliver!: (query: URLSearchParams) => void;
  const callback = new Promise<URLSearchParams>((resolve) => (deliver = resolve));
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    res.writeHead(200, { 'content-type': 'text/plain' }).end('Signed in. You can close this window.');
    if (url.pathname === '/callback') deliver(url.searchParams);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { redirectUri: `http://127.0.0.1:${port}/callback`, callback, close: () => server.close() };
}

async function exchange(
  portal: TestPortal,
  code: string,
  verifier: string,
  redirectUri: string,
): Promise<TokenResponse> {
  const response = await fetch(`${portal.url}/api/client/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code, code_verifier: verifier, redirect_uri: redirectUri }),
  });
  expect(response.status).toBe(200);
  return TokenResponse.parse(await response.json());
}

describeEngines('browser sign-in', (engine) => {
  const cleanup: Array<() => unknown> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  /** A loopback listener, a fresh browser context, and the sign-in request that redirects to the listener. */
  const browserSignIn = async () => {
    const listener = await loopbackListener();
    cleanup.push(() => listener.close());
    const context = await browser!.newContext();
    cleanup.push(() => context.close());
    return { listener, page: await context.newPage(), request: signInRequest(listener.redirectUri) };
  };

  it('signs in with a local account and gets a token that opens the client socket', async () => {
    const portal = await startTestPortal(engine(), { yaml: BASE_YAML });
    cleanup.push(() => portal.close());
    const { listener, page, request } = await browserSignIn();

    await page.goto(portal.url + request.path);
    await page.getByLabel('Email').fill('alice@corp.test');
    await page.getByLabel('Password').fill('not her password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Wrong email or password');
    await page.getByLabel('Password').fill('alice password');
    await page.getByRole('button', { name: 'Sign in' }).click();

    const query = await listener.callback;
    expect(query.get('state')).toBe(request.state);
    await expect.poll(() => page.textContent('body')).toContain('Signed in');
    const token = await exchange(portal, query.get('code')!, request.verifier, listener.redirectUri);
    expect(token.nonce).toBe(request.nonce);
    expect(token.account.email).toBe('alice@corp.test');
    const { client, init } = await registeredClient(portal.url, token.token);
    cleanup.push(() => client.close());
    expect(init.resources.map((r) => r.name).sort()).toEqual(['lab', 'nas']);
  });

  it('signs in through an OIDC provider, taking groups from its claim', async () => {
    // The IdP listens first so its issuer URL is known; its client is registered once the portal's URL is.
    const idpServer: Server = createServer();
    await new Promise<void>((resolve) => idpServer.listen(0, '127.0.0.1', resolve));
    cleanup.push(() => idpServer.close());
    const issuer = `http://127.0.0.1:${(idpServer.address() as AddressInfo).port}`;
    const clientSecret = randomBytes(24).toString('base64url');
    const portal = await startTestPortal(engine(), {
      yaml: BASE_YAML,
      oidc: { issuer, clientId: 'postern-portal', clientSecret, groupsClaim: 'groups', displayName: 'Corp SSO' },
    });
    cleanup.push(() => portal.close());
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: 'postern-portal',
          client_secret: clientSecret,
          redirect_uris: [`${portal.publicUrl}/sign-in/oidc/callback`],
          grant_types: ['authorization_code'],
          response_types: ['code'],
        },
      ],
      claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['groups'] },
      conformIdTokenClaims: false,
      findAccount: (_ctx, sub) => ({
        accountId: sub,
        claims: () => ({ sub, email: 'Carol@corp.test', email_verified: true, groups: ['engineering', 'contractors'] }),
      }),
      cookies: { keys: [randomBytes(32).toString('hex')] },
      features: { devInteractions: { enabled: true } },
    });
    idpServer.on('request', provider.callback());

    const { listener, page, request } = await browserSignIn();
    await page.goto(portal.url + request.path);
    await page.getByRole('link', { name: 'Sign in with Corp SSO' }).click();
    // oidc-provider's development login (any login and password) and consent pages.
    await page.locator('input[name="login"]').fill('carol');
    await page.locator('input[name="password"]').fill('anything');
    await page.getByRole('button', { name: 'Sign-in' }).click();
    await page.getByRole('button', { name: 'Continue' }).click();

    const query = await listener.callback;
    expect(query.get('state')).toBe(request.state);
    const token = await exchange(portal, query.get('code')!, request.verifier, listener.redirectUri);
    expect(token).toMatchObject({ account: { email: 'carol@corp.test' }, nonce: request.nonce });
    const accounts = await portal.admin<Array<{ email: string; groups: string[] }>>('GET', '/accounts');
    expect(accounts.find((a) => a.email === 'carol@corp.test')?.groups).toEqual(['contractors', 'engineering']);
    const { client, init } = await registeredClient(portal.url, token.token);
    cleanup.push(() => client.close());
    expect(init.resources.map((r) => r.name).sort()).toEqual(['lab', 'nas']);
  });
});
