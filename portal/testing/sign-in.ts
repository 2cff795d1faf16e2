import { createHash, randomBytes } from 'node:crypto';

/** PKCE verifier and its S256 challenge. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** What a client sends to `/sign-in` (fresh state, nonce and PKCE), and what it keeps to finish. */
export function signInRequest(redirectUri: string) {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(16).toString('base64url');
  const nonce = randomBytes(16).toString('base64url');
  const query = new URLSearchParams({
    redirect_uri: redirectUri,
    state,
    nonce,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  return { verifier, state, nonce, redirectUri, path: `/sign-in?${query}` };
}
