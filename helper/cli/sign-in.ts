import { spawn } from 'node:child_process';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { SignInQuery } from '../../protocol/portal-http.js';
import { ApiError, SignInRedirect, type TokenRequest, TokenResponse } from '../../protocol/portal-http.js';

/**
 * The CLI's browser sign-in (RFC 8252 loopback redirect): a one-shot HTTP listener on 127.0.0.1, the portal's
 * sign-in page opened in the browser with a random `state` (checked on the redirect, against CSRF), a random `nonce`
 * (checked in the token response, against replay) and a PKCE S256 challenge (the code is useless without our
 * verifier), then the code exchanged for a client token at `POST /api/client/token`.
 */

export type SignInResult = TokenResponse;

export interface SignInOptions {
  portalUrl: string;
  /** Opens the URL in a browser; false when none could be started (the URL is printed either way). */
  openBrowser: (url: string) => Promise<boolean>;
  print: (text: string) => void;
  timeoutMs?: number;
}

export async function signIn(options: SignInOptions): Promise<SignInResult> {
  const state = randomToken();
  const nonce = randomToken();
  const verifier = randomToken();
  const challenge = createHash('sha256').update(verifier).digest('base64url');

  const callback = await listenForCallback(state, options.timeoutMs ?? 5 * 60_000);
  try {
    const redirectUri = `http://127.0.0.1:${callback.port}/callback`;
    const url = new URL('/sign-in', options.portalUrl);
    const query: SignInQuery = {
      redirect_uri: redirectUri,
      state,
      nonce,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    };
    url.search = new URLSearchParams(query).toString();
    const opened = await options.openBrowser(url.toString());
    options.print(
      opened
        ? `Opened your browser to sign in. If it did not appear, visit:\n  ${url}`
        : `Open this address in a browser to sign in:\n  ${url}`,
    );
    const code = await callback.code;
    return await exchangeCode(options.portalUrl, { code, code_verifier: verifier, redirect_uri: redirectUri }, nonce);
  } finally {
    callback.close();
  }
}

/** Starts `xdg-open` (Linux desktops) and reports whether it ran; no browser on a headless machine is normal. */
export function openWithXdg(url: string): Promise<boolean> {
  if (!process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn('xdg-open', [url], { stdio: 'ignore', detached: true });
    child.once('error', () => resolve(false));
    child.once('exit', (code) => resolve(code === 0));
    child.unref();
  });
}

function randomToken(): string {
  return randomBytes(32).toString('base64url'); // 43 characters: also a valid PKCE verifier
}

function listenForCallback(
  expectedState: string,
  timeoutMs: number,
): Promise<{ port: number; code: Promise<string>; close: () => void }> {
  let settle: { resolve: (code: string) => void; reject: (e: Error) => void };
  const code = new Promise<string>((resolve, reject) => (settle = { resolve, reject }));
  // The redirect may arrive (and fail) while the browser is still being opened, before anyone awaits `code`.
  code.catch(() => {});
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback') return reply(res, 404, 'Not found.');
    const error = url.searchParams.get('error');
    const state = url.searchParams.get('state') ?? '';
    if (!sameSecret(state, expectedState)) {
      // Not the redirect of our sign-in (a stale tab, or a forged request): refuse it and keep waiting.
      return reply(res, 400, 'This sign-in link does not belong to the running `postern sign-in`.');
    }
    if (error) {
      reply(res, 400, `Sign-in failed: ${error}. You can close this tab.`);
      return settle.reject(new Error(`the portal reported: ${error}`));
    }
    const redirect = SignInRedirect.safeParse(Object.fromEntries(url.searchParams));
    if (!redirect.success) return reply(res, 400, 'The redirect carried no valid code.');
    reply(res, 200, 'Signed in. You can close this tab and return to the terminal.');
    settle.resolve(redirect.data.code);
  });
  const timer = setTimeout(() => settle.reject(new Error('timed out waiting for the browser sign-in')), timeoutMs);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as AddressInfo).port,
        code,
        close: () => {
          clearTimeout(timer);
          server.closeAllConnections();
          server.close();
        },
      }),
    );
  });
}

async function exchangeCode(portalUrl: string, body: TokenRequest, expectedNonce: string): Promise<SignInResult> {
  const response = await fetch(new URL('/api/client/token', portalUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`the portal answered the code exchange (HTTP ${response.status}) with something that is not JSON`);
  }
  if (!response.ok) {
    const error = ApiError.safeParse(json);
    const why = error.success ? `${error.data.error}: ${error.data.message}` : text.slice(0, 500);
    throw new Error(`the portal refused the sign-in code (HTTP ${response.status}): ${why}`);
  }
  const parsed = TokenResponse.safeParse(json);
  if (!parsed.success) throw new Error(`the portal's token response is invalid: ${z.prettifyError(parsed.error)}`);
  if (!sameSecret(parsed.data.nonce, expectedNonce)) throw new Error('the token response carries the wrong nonce');
  return parsed.data;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function reply(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${message}\n`);
}
