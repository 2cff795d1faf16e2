import { request } from 'node:http';
import { z } from 'zod';
import {
  AdminAccount,
  AdminGateway,
  AdminPolicy,
  MintedClientToken,
  type PolicyInput,
} from '../../protocol/portal-http.js';

/**
 * The portal's admin API (`/api/admin`, `protocol/portal-http.ts`) as the system tests and the demo use it, over the
 * Unix socket that relays to the portal in its namespace. Every answer is validated with the protocol's schemas.
 */
export class PortalAdmin {
  constructor(
    private readonly socketPath: string,
    private readonly token: string,
  ) {}

  async accounts(): Promise<AdminAccount[]> {
    return z.array(AdminAccount).parse(await this.call('GET', '/accounts'));
  }

  /** A fresh client token for the account with this email (headless sign-in). */
  async mintClientToken(email: string, ttlSeconds = 24 * 3600): Promise<MintedClientToken> {
    const account = (await this.accounts()).find((a) => a.email === email);
    if (!account) throw new Error(`the portal has no account ${email}`);
    return MintedClientToken.parse(await this.call('POST', `/accounts/${account.id}/tokens`, { ttlSeconds }));
  }

  async gateways(): Promise<AdminGateway[]> {
    return z.array(AdminGateway).parse(await this.call('GET', '/gateways'));
  }

  async policies(): Promise<AdminPolicy[]> {
    return z.array(AdminPolicy).parse(await this.call('GET', '/policies'));
  }

  async addPolicy(policy: PolicyInput): Promise<AdminPolicy> {
    return AdminPolicy.parse(await this.call('POST', '/policies', policy));
  }

  async deletePolicy(id: string): Promise<void> {
    await this.call('DELETE', `/policies/${id}`);
  }

  /** `GET /healthz` answers (the portal listens and its database works). */
  async healthy(): Promise<boolean> {
    try {
      await this.call('GET', '/healthz', undefined, '');
      return true;
    } catch {
      return false;
    }
  }

  /** One request; throws with the status and body unless it is 2xx. */
  call(method: string, path: string, body?: unknown, prefix = '/api/admin'): Promise<unknown> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          socketPath: this.socketPath,
          method,
          path: `${prefix}${path}`,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          timeout: 10_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString();
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) return reject(new Error(`${method} ${prefix}${path}: ${status} ${text}`));
            resolve(text === '' ? undefined : JSON.parse(text));
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${prefix}${path}: timed out`)));
      req.on('error', reject);
      req.end(payload);
    });
  }
}
