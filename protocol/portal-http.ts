import { z } from 'zod';
import { Filter, IpStack } from './resources.js';

/**
 * HTTP contracts of the portal: the browser sign-in that ends in a one-time code, the code-for-token exchange used by
 * the desktop app's main process and the `postern` CLI, and the admin REST API (Bearer admin token).
 * Every body is JSON; errors are `ApiError`.
 */

export const ApiError = z.object({ error: z.string().max(64), message: z.string().max(2048) });
export type ApiError = z.infer<typeof ApiError>;

// ---- sign-in -----------------------------------------------------------------------------------------------------

/** The only redirect URIs the portal accepts: the desktop app's scheme or a loopback listener of the CLI. */
export const DESKTOP_REDIRECT_URI = 'postern://auth/callback';

/** `GET /sign-in?…` — opened in the system browser by the client. */
export const SignInQuery = z.object({
  redirect_uri: z.string().min(1).max(2048),
  /** Echoed back on the redirect; the client checks it (CSRF). */
  state: z.string().min(8).max(512),
  /** Echoed back by the token exchange; the client checks it (replay). */
  nonce: z.string().min(8).max(512),
  /** base64url(SHA-256(code_verifier)), RFC 7636. */
  code_challenge: z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'a base64url SHA-256 digest (43 characters)'),
  code_challenge_method: z.literal('S256'),
});
export type SignInQuery = z.infer<typeof SignInQuery>;

/** What the portal appends to redirect_uri after the user authenticated: `?code=…&state=…`. */
export const SignInRedirect = z.object({ code: z.string().min(1).max(512), state: z.string().max(512) });
export type SignInRedirect = z.infer<typeof SignInRedirect>;

/** `POST /api/client/token`: the one-time code for a client token. */
export const TokenRequest = z.object({
  code: z.string().min(1).max(512),
  /** RFC 7636: 43–128 characters of [A-Za-z0-9-._~]. */
  code_verifier: z.string().regex(/^[A-Za-z0-9._~-]{43,128}$/, 'a PKCE code verifier (43-128 unreserved characters)'),
  redirect_uri: z.string().min(1).max(2048),
});
export type TokenRequest = z.infer<typeof TokenRequest>;

export const AccountSummary = z.object({ id: z.string().max(64), email: z.string().max(320) });
export type AccountSummary = z.infer<typeof AccountSummary>;

export const TokenResponse = z.object({
  /** Opaque; goes into `Authorization: Bearer` of the client WebSocket. */
  token: z.string().min(1).max(512),
  /** Unix epoch milliseconds. */
  expiresAt: z.number().int(),
  account: AccountSummary,
  /** The nonce of the sign-in request, for the client to compare with the one it sent. */
  nonce: z.string().max(512),
});
export type TokenResponse = z.infer<typeof TokenResponse>;

/** `POST /api/client/sign-out` (Bearer client token): revokes that token. Answers 204. */

// ---- admin API (`/api/admin/...`, `Authorization: Bearer <admin token>`) ------------------------------------------

const Name = z.string().min(1).max(255);
const Id = z.string().min(1).max(64);

/** Resources as an admin writes them; `address` is classified by the portal (DNS pattern, CIDR or IP). */
export const ResourceInput = z.strictObject({
  name: Name,
  address: z.string().min(1).max(253),
  /** Site name. */
  site: Name,
  /** `tcp/80`, `udp/5000-5010`, `icmp`, `tcp` (all ports); empty or absent: everything allowed. */
  filters: z.array(z.string().max(32)).max(64).optional(),
  ip_stack: IpStack.optional(),
});
export type ResourceInput = z.infer<typeof ResourceInput>;

export const AdminResource = z.object({
  id: Id,
  name: Name,
  type: z.enum(['dns', 'cidr']),
  address: z.string(),
  site: z.object({ id: Id, name: Name }),
  filters: z.array(Filter),
  ipStack: IpStack,
});
export type AdminResource = z.infer<typeof AdminResource>;

export const GroupInput = z.strictObject({ name: Name });
export const AdminGroup = z.object({ id: Id, name: Name });
export type AdminGroup = z.infer<typeof AdminGroup>;

export const AccountKind = z.enum(['user', 'service']);
export const AccountInput = z.strictObject({
  email: z
    .string()
    .min(3)
    .max(320)
    .regex(/^[^@\s]+@[^@\s]+$/, 'an email address'),
  kind: AccountKind.optional(),
  /** Local sign-in; stored as a scrypt hash. */
  password: z.string().min(8).max(1024).optional(),
  /** Group names; missing groups are created. Replaces the account's memberships when given. */
  groups: z.array(Name).max(256).optional(),
  disabled: z.boolean().optional(),
});
export type AccountInput = z.infer<typeof AccountInput>;
export const AccountPatch = AccountInput.partial();
export const AdminAccount = z.object({
  id: Id,
  email: z.string(),
  kind: AccountKind,
  groups: z.array(Name),
  disabled: z.boolean(),
  hasPassword: z.boolean(),
});
export type AdminAccount = z.infer<typeof AdminAccount>;

/** One grant: members of `group` may use `resource` (names). */
export const PolicyInput = z.strictObject({ group: Name, resource: Name });
export type PolicyInput = z.infer<typeof PolicyInput>;
export const AdminPolicy = z.object({
  id: Id,
  group: z.object({ id: Id, name: Name }),
  resource: z.object({ id: Id, name: Name }),
});
export type AdminPolicy = z.infer<typeof AdminPolicy>;

export const SiteInput = z.strictObject({ name: Name });
export const AdminSite = z.object({ id: Id, name: Name });
export type AdminSite = z.infer<typeof AdminSite>;

/** `POST /api/admin/sites/:id/gateway-tokens` answers the token once; only its hash is stored. */
export const MintedGatewayToken = z.object({ id: Id, token: z.string() });
export const AdminGatewayToken = z.object({ id: Id, siteId: Id, createdAt: z.number().int() });

/** `POST /api/admin/accounts/:id/tokens`: a client token for a service account or user (headless clients, tests). */
export const MintTokenRequest = z.strictObject({
  /** Lifetime in seconds; the portal's default when absent. */
  ttlSeconds: z
    .number()
    .int()
    .min(60)
    .max(365 * 24 * 3600)
    .optional(),
});
export const MintedClientToken = z.object({ id: Id, token: z.string(), expiresAt: z.number().int() });
export type MintedClientToken = z.infer<typeof MintedClientToken>;

export const AdminClientToken = z.object({
  id: Id,
  accountId: Id,
  createdAt: z.number().int(),
  expiresAt: z.number().int(),
  revoked: z.boolean(),
});

export const AdminDevice = z.object({
  id: Id,
  accountId: Id,
  name: z.string(),
  publicKey: z.string(),
  os: z.string(),
  version: z.string(),
  tunnel: z.object({ ipv4: z.string(), ipv6: z.string() }),
  lastSeenAt: z.number().int(),
});
export type AdminDevice = z.infer<typeof AdminDevice>;

export const AdminGateway = z.object({
  id: Id,
  siteId: Id,
  name: z.string(),
  publicKey: z.string(),
  endpoint: z.object({ host: z.string(), port: z.number().int() }),
  tunnel: z.object({ ipv4: z.string(), ipv6: z.string() }),
  online: z.boolean(),
});
export type AdminGateway = z.infer<typeof AdminGateway>;

export const AdminAuthorization = z.object({
  id: Id,
  deviceId: Id,
  accountId: Id,
  resourceId: Id,
  gatewayId: Id,
  expiresAt: z.number().int(),
});
export type AdminAuthorization = z.infer<typeof AdminAuthorization>;

/** `PUT /api/admin/settings`: what clients get besides resources. */
export const SettingsInput = z.strictObject({
  upstream_resolvers: z.array(z.string().max(64)).max(16).optional(),
  /** `"name"` (answer REFUSED) or `"name = IP"` (static answer). */
  blocked_domains: z.array(z.string().max(300)).max(10_000).optional(),
  mapped_ranges: z.object({ ipv4: z.cidrv4(), ipv6: z.cidrv6() }).nullable().optional(),
});
export type SettingsInput = z.infer<typeof SettingsInput>;
