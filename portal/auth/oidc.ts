import * as client from 'openid-client';

export interface OidcSettings {
  issuer: string;
  clientId: string;
  clientSecret?: string;
  /** Claim listing the user's group names; memberships follow it at each sign-in. */
  groupsClaim?: string;
  displayName?: string;
}

export interface OidcIdentity {
  subject: string;
  email: string;
  /** Undefined when no groups claim is configured or the IdP sent none. */
  groups: string[] | undefined;
}

/**
 * The portal as an OIDC client of the organisation's IdP (authorization code flow with its own state, nonce and
 * PKCE towards the IdP). Discovery is done lazily and retried on failure, so a portal starts even if the IdP is down.
 */
export class OidcUpstream {
  #config: Promise<client.Configuration> | undefined;

  constructor(
    readonly settings: OidcSettings,
    /** Where the IdP sends the browser back: `${publicUrl}/sign-in/oidc/callback`. */
    readonly callbackUrl: () => string,
  ) {}

  async authorizationUrl(): Promise<{ url: string; state: string; nonce: string; verifier: string }> {
    const config = await this.#discover();
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.callbackUrl(),
      scope: 'openid email profile',
      state,
      nonce,
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
    });
    return { url: url.href, state, nonce, verifier };
  }

  /** Exchanges the IdP's code; openid-client checks state, nonce, PKCE and the ID token's signature and claims. */
  async complete(
    callbackUrl: URL,
    expected: { state: string; nonce: string; verifier: string },
  ): Promise<OidcIdentity | { error: string }> {
    const config = await this.#discover();
    const tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      expectedState: expected.state,
      expectedNonce: expected.nonce,
      pkceCodeVerifier: expected.verifier,
      idTokenExpected: true,
    });
    const claims = tokens.claims();
    if (!claims) return { error: 'the identity provider sent no ID token' };
    const email = typeof claims.email === 'string' ? claims.email.toLowerCase() : undefined;
    if (!email) return { error: 'the identity provider sent no email claim (is the "email" scope allowed?)' };
    if (claims.email_verified === false) return { error: 'the identity provider has not verified this email' };
    const claim = this.settings.groupsClaim ? claims[this.settings.groupsClaim] : undefined;
    const groups = Array.isArray(claim)
      ? claim.filter((g): g is string => typeof g === 'string' && g !== '')
      : undefined;
    return { subject: `${claims.iss} ${claims.sub}`, email, groups };
  }

  #discover(): Promise<client.Configuration> {
    if (!this.#config) {
      const issuer = new URL(this.settings.issuer);
      // Plain HTTP only to an IdP on this machine (development, tests): nothing crosses a network.
      const loopback = ['127.0.0.1', '[::1]', 'localhost'].includes(issuer.hostname);
      this.#config = client
        .discovery(
          issuer,
          this.settings.clientId,
          this.settings.clientSecret,
          undefined,
          loopback && issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : undefined,
        )
        .catch((err: unknown) => {
          this.#config = undefined;
          throw err;
        });
    }
    return this.#config;
  }
}
