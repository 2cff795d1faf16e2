import { expect, it } from 'vitest';
import { TokenResponse } from '../../protocol/portal-http.js';
import { describeEngines, portalPerTest, type TestPortal } from '../testing/fixture.js';
import { pkcePair, signInRequest } from '../testing/sign-in.js';
import { registeredClient } from '../testing/peers.js';

/** The browser's part without a browser: open /sign-in, post the form, read the redirect (e2e/portal does it for real). */
async function signIn(portal: TestPortal, email: string, password: string, redirectUri = 'http://127.0.0.1:4321/cb') {
  const { verifier, state, nonce, path } = signInRequest(redirectUri);
  const posted = await postSignIn(portal, path, email, password);
  const location = posted.headers.get('location');
  const code = location ? new URL(location).searchParams.get('code') : null;
  return { status: posted.status, location, code, state, nonce, verifier, redirectUri };
}

async function postSignIn(portal: TestPortal, path: string, email: string, password: string): Promise<Response> {
  const page = await fetch(`${portal.url}${path}`);
  const requestId = /name="request" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
  return fetch(`${portal.url}/sign-in/password`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ request: requestId, email, password }).toString(),
  });
}

const signInResponse = (portal: TestPortal, email: string, password: string) =>
  postSignIn(portal, signInRequest('http://127.0.0.1:4321/cb').path, email, password);

const exchange = (portal: TestPortal, body: object) =>
  fetch(`${portal.url}/api/client/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describeEngines('sign-in and token exchange', (engine) => {
  const harness = portalPerTest(engine);

  it('redirects with code and state, and exchanges the code once, with PKCE, for a working token', async () => {
    const portal = await harness.start();
    const s = await signIn(portal, 'Alice@corp.test', 'alice password');
    expect(s.status).toBe(303);
    expect(s.location).toMatch(/^http:\/\/127\.0\.0\.1:4321\/cb\?code=pcode_[\w-]+&state=/);
    expect(new URL(s.location!).searchParams.get('state')).toBe(s.state);

    const wrongVerifier = await exchange(portal, {
      code: s.code,
      code_verifier: pkcePair().verifier,
      redirect_uri: s.redirectUri,
    });
    expect(wrongVerifier.status).toBe(400);
    // The failed attempt consumed the code (single use, RFC 6749 §4.1.2).
    const again = await exchange(portal, { code: s.code, code_verifier: s.verifier, redirect_uri: s.redirectUri });
    expect(again.status).toBe(400);

    const t = await signIn(portal, 'alice@corp.test', 'alice password');
    const otherRedirect = await exchange(portal, {
      code: t.code,
      code_verifier: t.verifier,
      redirect_uri: 'http://127.0.0.1:9/x',
    });
    expect(otherRedirect.status).toBe(400);

    const u = await signIn(portal, 'alice@corp.test', 'alice password');
    const ok = await exchange(portal, { code: u.code, code_verifier: u.verifier, redirect_uri: u.redirectUri });
    expect(ok.status).toBe(200);
    const token = TokenResponse.parse(await ok.json());
    expect(token).toMatchObject({ account: { email: 'alice@corp.test' }, nonce: u.nonce });
    expect(token.expiresAt).toBeGreaterThan(Date.now());
    const reuse = await exchange(portal, { code: u.code, code_verifier: u.verifier, redirect_uri: u.redirectUri });
    expect(reuse.status).toBe(400);

    const { init, client } = await registeredClient(portal.url, token.token);
    expect(init.account.email).toBe('alice@corp.test');
    // Signing out revokes the token and closes its socket.
    const out = await fetch(`${portal.url}/api/client/sign-out`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token.token}` },
    });
    expect(out.status).toBe(204);
    expect((await client.closed).code).toBe(4001);
  });

  it('refuses a wrong password, an unknown account and a disabled one without a redirect', async () => {
    const portal = await harness.start();
    expect((await signIn(portal, 'alice@corp.test', 'wrong password')).status).toBe(401);
    expect((await signIn(portal, 'nobody@corp.test', 'alice password')).status).toBe(401);
    const accounts = await portal.admin<Array<{ id: string; email: string }>>('GET', '/accounts');
    await portal.admin('PATCH', `/accounts/${accounts.find((a) => a.email === 'bob@corp.test')!.id}`, {
      disabled: true,
    });
    const bob = await signIn(portal, 'bob@corp.test', 'bob password');
    expect([bob.status, bob.location]).toEqual([401, null]);
  });

  it('refuses password guessing: after 5 failures an account is locked out, even with the right password', async () => {
    const portal = await harness.start();
    for (let i = 0; i < 5; i++) expect((await signIn(portal, 'alice@corp.test', `guess ${i}`)).status).toBe(401);
    const locked = await signInResponse(portal, 'Alice@corp.test', 'alice password');
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await locked.text()).toContain('Too many failed sign-ins');
    // Another account from the same address is still fine.
    expect((await signIn(portal, 'bob@corp.test', 'bob password')).code).toBeTruthy();
  });

  it('accepts only the app scheme and loopback redirect URIs, and validates the PKCE parameters', async () => {
    const portal = await harness.start();
    const open = (params: Record<string, string>) =>
      fetch(
        `${portal!.url}/sign-in?${new URLSearchParams({
          state: 'state-123456',
          nonce: 'nonce-123456',
          code_challenge: pkcePair().challenge,
          code_challenge_method: 'S256',
          ...params,
        })}`,
        { redirect: 'manual' },
      );
    expect((await open({ redirect_uri: 'postern://auth/callback' })).status).toBe(200);
    expect((await open({ redirect_uri: 'http://127.0.0.1:8000/callback' })).status).toBe(200);
    expect((await open({ redirect_uri: 'http://[::1]:8000/callback' })).status).toBe(200);
    for (const bad of [
      'https://evil.test/cb',
      'http://localhost:8000/cb',
      'http://127.0.0.1/cb',
      'http://user@127.0.0.1:8000/cb',
      'postern://auth/other',
      'http://127.0.0.1.evil.test:80/cb',
      'javascript:alert(1)',
    ]) {
      const response = await open({ redirect_uri: bad });
      expect([bad, response.status, response.headers.get('location')]).toEqual([bad, 400, null]);
    }
    expect((await open({ redirect_uri: 'postern://auth/callback', code_challenge_method: 'plain' })).status).toBe(400);
    expect((await open({ redirect_uri: 'postern://auth/callback', code_challenge: 'short' })).status).toBe(400);
    const postern = await signIn(portal, 'alice@corp.test', 'alice password', 'postern://auth/callback');
    expect(postern.location).toMatch(/^postern:\/\/auth\/callback\?code=/);
  });
});
