import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe } from 'vitest';
import type { MintedClientToken } from '../../protocol/portal-http.js';
import type { OidcSettings } from '../auth/oidc.js';
import { parseConfig } from '../config/file.js';
import type { PortalTimings } from '../engine/hub.js';
import { startPortal, type Portal } from '../server.js';
import { pgliteEngine, postgresEngine, postgresUnavailableReason, type TestEngine } from './engines.js';

export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
// Fast enough for quick tests, slow enough that a loaded 2-core CI machine does not miss heartbeats.
export const FAST_TIMINGS: Partial<PortalTimings> = { heartbeatMs: 500, gatewayAckTimeoutMs: 3000 };

/**
 * Runs `body` once per engine (PGlite, and a private PostgreSQL cluster when this machine can run one; otherwise
 * that half is skipped with the reason printed).
 */
export function describeEngines(title: string, body: (engine: () => TestEngine) => void): void {
  for (const name of ['pglite', 'postgres'] as const) {
    const reason = name === 'postgres' ? postgresUnavailableReason() : undefined;
    if (reason) console.warn(`skipping "${title}" on PostgreSQL: ${reason}`);
    // Generous timeout: PGlite compiles its WebAssembly on first use, which is slow on a loaded machine.
    describe.skipIf(reason !== undefined)(`${title} [${name}]`, { timeout: 30_000 }, () => {
      let engine: TestEngine | undefined;
      beforeAll(async () => {
        engine = name === 'pglite' ? pgliteEngine() : await postgresEngine();
      }, 60_000);
      afterAll(async () => engine?.stop());
      body(() => {
        if (!engine) throw new Error('engine not started');
        return engine;
      });
    });
  }
}

/**
 * One portal per test (BASE_YAML unless told otherwise) and whatever the test opened, all closed after each test,
 * sockets first.
 */
export function portalPerTest(engine: () => TestEngine) {
  let portal: TestPortal | undefined;
  const closers: Array<() => unknown> = [];
  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
    await portal?.close();
    portal = undefined;
  });
  return {
    async start(options: Parameters<typeof startTestPortal>[1] = {}): Promise<TestPortal> {
      portal = await startTestPortal(engine(), { yaml: BASE_YAML, ...options });
      return portal;
    },
    defer(close: () => unknown): void {
      closers.push(close);
    },
  };
}

export interface TestPortal extends Portal {
  /** Calls the admin API; throws on an unexpected status. */
  admin<T = unknown>(method: string, path: string, body?: unknown, expectStatus?: number): Promise<T>;
  /** A fresh client token for the account with this email. */
  tokenFor(email: string): Promise<string>;
}

export async function startTestPortal(
  engine: TestEngine,
  options: {
    yaml?: string;
    timings?: Partial<PortalTimings>;
    database?: { url: string; pgliteDump?: Blob };
    oidc?: OidcSettings;
  } = {},
): Promise<TestPortal> {
  const database = options.database ?? (await engine.database());
  const config = options.yaml === undefined ? undefined : parseConfig(options.yaml, 'portal.yaml');
  if (config && !config.ok) throw new Error(config.errors.join('\n'));
  const portal = await startPortal({
    database: database.url,
    ...(database.pgliteDump ? { pgliteDump: database.pgliteDump } : {}),
    listen: { host: '127.0.0.1', port: 0 },
    adminToken: ADMIN_TOKEN,
    ...(config ? { config: config.value } : {}),
    ...(options.oidc ? { oidc: options.oidc } : {}),
    timings: { ...FAST_TIMINGS, ...options.timings },
    logger: pino({ level: process.env.POSTERN_TEST_LOG ?? 'silent' }),
  });
  const admin = async <T>(method: string, path: string, body?: unknown, expectStatus?: number): Promise<T> => {
    const response = await fetch(`${portal.url}/api/admin${path}`, {
      method,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    const ok = expectStatus === undefined ? response.ok : response.status === expectStatus;
    if (!ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  };
  return Object.assign(portal, {
    admin,
    async tokenFor(email: string) {
      const accounts = await admin<Array<{ id: string; email: string }>>('GET', '/accounts');
      const account = accounts.find((a) => a.email === email);
      if (!account) throw new Error(`no account ${email}`);
      return (await admin<MintedClientToken>('POST', `/accounts/${account.id}/tokens`, {})).token;
    },
  });
}

/** A temp dir removed after the file's tests. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'postern-portal-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function writeTemp(dir: string, name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** The config most tests start from: alice in engineering may use nas; bob in sales may use crm. */
export const BASE_YAML = `
accounts:
  - { email: alice@corp.test, password: "alice password", groups: [engineering] }
  - { email: bob@corp.test, password: "bob password", groups: [sales] }
sites:
  - { name: corp, gateway_tokens: ["gateway-token-corp-0123456789"] }
  - { name: branch, gateway_tokens: ["gateway-token-branch-0123456789"] }
upstream_resolvers: ["192.0.2.53"]
resources:
  - { name: nas, address: nas.corp.test, site: corp, filters: ["tcp/445", "icmp"] }
  - { name: crm, address: "*.crm.corp.test", site: corp }
  - { name: lab, address: 10.20.0.0/16, site: branch }
blocked_domains: ["ads.corp.test", "wpad.corp.test = 0.0.0.0"]
policies:
  - { group: engineering, resources: [nas, lab] }
  - { group: sales, resources: [crm] }
`;
export const CORP_GATEWAY_TOKEN = 'gateway-token-corp-0123456789';
