import { z } from 'zod';
import { Resource, ResourceId, TunnelAddresses } from './resources.js';

/**
 * The helper daemon's local API: what the desktop app and the `postern` CLI send to `postern-helper` over its Unix
 * socket, and what comes back.
 *
 * Frame format: every message is one frame, a 4-byte big-endian unsigned length followed by that many bytes of
 * UTF-8 JSON. Requests carry a client-chosen `id`; each request gets exactly one reply with the same `id` — its
 * `…_result` or an `error`. After `subscribe`, the helper also pushes events (`state_changed`, `resources_changed`,
 * `mapping_changed`, `mappings_cleared`), which carry no `id`. Both sides validate every frame with these schemas on receipt.
 *
 * The helper accepts request frames up to MAX_REQUEST_FRAME_BYTES; a larger one gets an `error` (`too_large`) and the
 * connection is closed (the stream cannot be resynchronised). Clients accept frames up to MAX_REPLY_FRAME_BYTES.
 * Connections from a peer that is neither root nor a member of the `postern` group get an `error` (`forbidden`) and
 * are closed.
 */

export const HELPER_API_VERSION = 1;
export const DEFAULT_HELPER_SOCKET = '/run/postern/helper.sock';
export const DEFAULT_MANAGED_SETTINGS_FILE = '/etc/postern/managed.json';
export const FRAME_HEADER_BYTES = 4;
export const MAX_REQUEST_FRAME_BYTES = 64 * 1024;
export const MAX_REPLY_FRAME_BYTES = 16 * 1024 * 1024;

const RequestId = z.number().int().min(0).max(0xffff_ffff);
const IpAddress = z.union([z.ipv4(), z.ipv6()]);
const PortalUrl = z.url({ protocol: /^(https?|wss?)$/, normalize: true }).max(2048);

// ---- managed settings (MDM) ---------------------------------------------------------------------------------------

/**
 * Settings IT pushes through MDM (`/etc/postern/managed.json` on Linux). The app locks every setting given here.
 * Unknown keys are ignored (a newer template on an older client), wrong types make the whole file invalid.
 */
export const ManagedSettings = z.object({
  /** The portal the app signs in to; the user cannot change it. */
  portalUrl: PortalUrl.optional(),
  /** Connect at login with the stored token. */
  connectOnStart: z.boolean().optional(),
  hideAdminPortalMenuItem: z.boolean().optional(),
  supportUrl: z
    .url({ protocol: /^https?$/ })
    .max(2048)
    .optional(),
  disableSignOut: z.boolean().optional(),
});
export type ManagedSettings = z.infer<typeof ManagedSettings>;

// ---- the helper's view of the world -------------------------------------------------------------------------------

export const DnsMode = z.enum(['auto', 'systemd-resolved', 'resolv-conf', 'none']);
export type DnsMode = z.infer<typeof DnsMode>;

export const ConnectionErrorCode = z.enum([
  /** The portal refused the token (HTTP 401/403 on the WebSocket upgrade). Reconnecting will not help. */
  'unauthorized',
  /** The portal could not be reached or the link died; the helper keeps retrying with backoff. */
  'unreachable',
  /** The portal sent something the helper could not use. */
  'protocol',
  /** The TUN device, routes or DNS could not be set up. */
  'system',
  'internal',
]);
export const ConnectionError = z.object({ code: ConnectionErrorCode, message: z.string().max(2048) });
export type ConnectionError = z.infer<typeof ConnectionError>;

const Account = z.object({ id: z.string().max(64), email: z.string().max(320) });
const Device = z.object({ id: z.string().max(64), tunnel: TunnelAddresses });

export const ConnectionState = z.discriminatedUnion('status', [
  z.object({ status: z.literal('disconnected'), error: ConnectionError.optional() }),
  /** First connection attempts after `connect`; `attempt` counts from 1. */
  z.object({
    status: z.literal('connecting'),
    portalUrl: PortalUrl,
    attempt: z.number().int().min(1),
    error: ConnectionError.optional(),
  }),
  z.object({
    status: z.literal('connected'),
    portalUrl: PortalUrl,
    account: Account,
    device: Device,
    /** Unix epoch ms. */
    since: z.number(),
  }),
  /** The portal link dropped after having been up; tunnels already set up keep working meanwhile. */
  z.object({
    status: z.literal('reconnecting'),
    portalUrl: PortalUrl,
    account: Account,
    device: Device,
    attempt: z.number().int().min(1),
    error: ConnectionError.optional(),
  }),
]);
export type ConnectionState = z.infer<typeof ConnectionState>;

/**
 * `idle`: granted, no tunnel yet (the tunnel opens on the first packet); `connecting`: authorization or handshake in
 * progress; `online`: a gateway carries it; `offline`: no gateway of its site is reachable; `forbidden`: the portal
 * refused the authorization.
 */
export const ResourceStatus = z.enum(['idle', 'connecting', 'online', 'offline', 'forbidden']);
export type ResourceStatus = z.infer<typeof ResourceStatus>;

export const ResourceView = z.object({
  resource: Resource,
  status: ResourceStatus,
  /** The gateway the resource goes through while authorized. */
  gatewayId: z.string().max(64).nullable(),
});
export type ResourceView = z.infer<typeof ResourceView>;

/** The DNS-resource NAT state of a mapping with its gateway (seed 003); `none` until traffic needs a gateway. */
export const NatState = z.enum(['none', 'pending', 'confirmed', 'recreating', 'failed']);
export type NatState = z.infer<typeof NatState>;

/** One domain the stub resolver answered with mapped IPs. */
export const Mapping = z.object({
  domain: z.string().min(1).max(253),
  /** The granted resource the domain matches; null once none does any more (its IPs stay reserved). */
  resourceId: ResourceId.nullable(),
  ipv4: z.array(z.ipv4()).max(16),
  ipv6: z.array(z.ipv6()).max(16),
  gatewayId: z.string().max(64).nullable(),
  natState: NatState,
  /** Unix epoch ms of the last query for the domain or packet to it. */
  lastUsedAt: z.number(),
});
export type Mapping = z.infer<typeof Mapping>;

export const TunnelInfo = z.object({
  tunName: z.string().min(1).max(15),
  mtu: z.number().int().min(576).max(65535),
  addresses: TunnelAddresses,
});

export type TunnelInfo = z.infer<typeof TunnelInfo>;

export const DnsInfo = z.object({
  /** The mode in effect (never `auto`). */
  mode: DnsMode.exclude(['auto']),
  /** The sentinel addresses the host's DNS points at, one per upstream. */
  sentinels: z.array(IpAddress),
  /** The resolvers queries for non-resource names are forwarded to. */
  upstreams: z.array(IpAddress),
});
export type DnsInfo = z.infer<typeof DnsInfo>;

// ---- requests (app/CLI → helper) ----------------------------------------------------------------------------------

export const HelloRequest = z.object({
  type: z.literal('hello'),
  id: RequestId,
  client: z.object({ name: z.string().max(64), version: z.string().max(64) }).optional(),
});
/** Sign in to the portal with a client token and bring up the tunnel. Replaces an existing connection. */
export const ConnectRequest = z.object({
  type: z.literal('connect'),
  id: RequestId,
  portalUrl: PortalUrl,
  token: z.string().min(1).max(8192),
});
export const DisconnectRequest = z.object({ type: z.literal('disconnect'), id: RequestId });
export const StatusRequest = z.object({ type: z.literal('status'), id: RequestId });
export const ResourcesRequest = z.object({ type: z.literal('resources'), id: RequestId });
export const MappingsRequest = z.object({ type: z.literal('mappings'), id: RequestId });
/** Start receiving events on this connection; the result carries a snapshot the events then update. */
export const SubscribeRequest = z.object({ type: z.literal('subscribe'), id: RequestId });

export const HelperRequest = z.discriminatedUnion('type', [
  HelloRequest,
  ConnectRequest,
  DisconnectRequest,
  StatusRequest,
  ResourcesRequest,
  MappingsRequest,
  SubscribeRequest,
]);
export type HelperRequest = z.infer<typeof HelperRequest>;
export type HelperRequestType = HelperRequest['type'];
export const HELPER_REQUEST_TYPES = HelperRequest.options.map((o) => o.shape.type.value);

// ---- replies (helper → app/CLI) -----------------------------------------------------------------------------------

export const HelloResult = z.object({
  type: z.literal('hello_result'),
  id: RequestId,
  version: z.string(),
  apiVersion: z.number().int(),
  managed: ManagedSettings,
  /** Why the managed settings file was ignored (unreadable, bad JSON, wrong types); absent when it was fine. */
  managedError: z.string().max(2048).optional(),
  state: ConnectionState,
});
/**
 * Sent once the portal accepted the device and the tunnel is set up (`connected`), or — when the portal cannot be
 * reached in time — with the in-progress state (the helper keeps retrying). A rejected token is an `error`
 * (`unauthorized`) instead.
 */
export const ConnectResult = z.object({ type: z.literal('connect_result'), id: RequestId, state: ConnectionState });
export const DisconnectResult = z.object({
  type: z.literal('disconnect_result'),
  id: RequestId,
  state: ConnectionState,
});
export const StatusResult = z.object({
  type: z.literal('status_result'),
  id: RequestId,
  version: z.string(),
  state: ConnectionState,
  /** Null while disconnected. */
  tunnel: TunnelInfo.nullable(),
  dns: DnsInfo.nullable(),
  /** Prefixes routed into the TUN. */
  routes: z.array(z.string()),
  /** Counters of the client core (packets, drops by reason, queries…). */
  stats: z.record(z.string(), z.number()),
});
export const ResourcesResult = z.object({
  type: z.literal('resources_result'),
  id: RequestId,
  resources: z.array(ResourceView),
});
export const MappingsResult = z.object({
  type: z.literal('mappings_result'),
  id: RequestId,
  mappings: z.array(Mapping),
});
export const SubscribeResult = z.object({
  type: z.literal('subscribe_result'),
  id: RequestId,
  state: ConnectionState,
  resources: z.array(ResourceView),
  mappings: z.array(Mapping),
});

export const HelperErrorCode = z.enum([
  /** Not a frame of UTF-8 JSON object with a string `type`. */
  'malformed',
  /** A `type` this helper does not know. */
  'unknown_request',
  /** A known request whose fields are wrong. */
  'invalid_request',
  /** The frame is larger than MAX_REQUEST_FRAME_BYTES; the connection is closed. */
  'too_large',
  /** The peer is neither root nor in group `postern`; the connection is closed. */
  'forbidden',
  /** The portal refused the token. */
  'unauthorized',
  /** The request needs a connection (or none) and the state is otherwise. */
  'bad_state',
  'internal',
]);
export type HelperErrorCode = z.infer<typeof HelperErrorCode>;

/** The reply to a request that failed; `id` is null when the frame was too broken to carry one. */
export const HelperError = z.object({
  type: z.literal('error'),
  id: RequestId.nullable(),
  code: HelperErrorCode,
  message: z.string().max(4096),
});
export type HelperError = z.infer<typeof HelperError>;

// ---- events (helper → subscribers) --------------------------------------------------------------------------------

export const StateChanged = z.object({ type: z.literal('state_changed'), state: ConnectionState });
/** The full resource list, whenever a resource or its status changed. */
export const ResourcesChanged = z.object({ type: z.literal('resources_changed'), resources: z.array(ResourceView) });
/** One mapping was created or changed (NAT state, gateway, last use). */
export const MappingChanged = z.object({ type: z.literal('mapping_changed'), mapping: Mapping });
/** Every mapping is gone (the portal changed the mapped ranges); applications resolve again. */
export const MappingsCleared = z.object({ type: z.literal('mappings_cleared') });

export const HelperMessage = z.discriminatedUnion('type', [
  HelloResult,
  ConnectResult,
  DisconnectResult,
  StatusResult,
  ResourcesResult,
  MappingsResult,
  SubscribeResult,
  HelperError,
  StateChanged,
  ResourcesChanged,
  MappingChanged,
  MappingsCleared,
]);
export type HelperMessage = z.infer<typeof HelperMessage>;
export type HelperEvent =
  | z.infer<typeof StateChanged>
  | z.infer<typeof ResourcesChanged>
  | z.infer<typeof MappingChanged>
  | z.infer<typeof MappingsCleared>;

/** The successful reply each request type gets. */
export interface HelperResultByRequest {
  hello: z.infer<typeof HelloResult>;
  connect: z.infer<typeof ConnectResult>;
  disconnect: z.infer<typeof DisconnectResult>;
  status: z.infer<typeof StatusResult>;
  resources: z.infer<typeof ResourcesResult>;
  mappings: z.infer<typeof MappingsResult>;
  subscribe: z.infer<typeof SubscribeResult>;
}
export type HelperResult = HelperResultByRequest[HelperRequestType];

// ---- parsing a request ------------------------------------------------------------------------------------------

export type ParsedRequest = { ok: true; request: HelperRequest } | { ok: false; error: HelperError };

/** Classifies a decoded frame: a valid request, or the error frame to answer it with. Never throws. */
export function parseHelperRequest(json: unknown): ParsedRequest {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return fail(null, 'malformed', 'a request is a JSON object');
  }
  const record = json as Record<string, unknown>;
  const id = RequestId.safeParse(record.id).success ? (record.id as number) : null;
  if (typeof record.type !== 'string') return fail(id, 'malformed', 'a request needs a string "type"');
  if (!(HELPER_REQUEST_TYPES as readonly string[]).includes(record.type)) {
    return fail(id, 'unknown_request', `unknown request type ${JSON.stringify(record.type.slice(0, 64))}`);
  }
  const parsed = HelperRequest.safeParse(json);
  if (!parsed.success) return fail(id, 'invalid_request', `invalid ${record.type}: ${z.prettifyError(parsed.error)}`);
  return { ok: true, request: parsed.data };
}

function fail(id: number | null, code: HelperErrorCode, message: string): ParsedRequest {
  return { ok: false, error: { type: 'error', id, code, message: message.slice(0, 4096) } };
}

// ---- the frame codec --------------------------------------------------------------------------------------------

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** One frame: the 4-byte big-endian length, then the message as UTF-8 JSON. */
export function encodeFrame(message: HelperRequest | HelperMessage): Uint8Array {
  const body = utf8.encode(JSON.stringify(message));
  const frame = new Uint8Array(FRAME_HEADER_BYTES + body.length);
  new DataView(frame.buffer).setUint32(0, body.length);
  frame.set(body, FRAME_HEADER_BYTES);
  return frame;
}

export type DecodedFrame =
  | { ok: true; json: unknown }
  /** `malformed`: this frame was not UTF-8 JSON, later frames are fine. `too_large`: the stream is unusable. */
  | { ok: false; code: 'malformed' | 'too_large'; message: string };

/**
 * Splits a byte stream into frames and decodes their JSON. Feed it every chunk read from the socket; it returns the
 * frames completed by that chunk. After a `too_large` result it returns nothing more: close the connection.
 */
export class FrameDecoder {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private failed = false;

  constructor(private readonly maxFrameBytes: number) {}

  push(chunk: Uint8Array): DecodedFrame[] {
    if (this.failed) return [];
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const frames: DecodedFrame[] = [];
    while (this.pendingBytes >= FRAME_HEADER_BYTES) {
      const length = this.peekLength();
      if (length > this.maxFrameBytes) {
        this.failed = true;
        this.pending = [];
        this.pendingBytes = 0;
        frames.push({
          ok: false,
          code: 'too_large',
          message: `frame of ${length} bytes is larger than the limit of ${this.maxFrameBytes}`,
        });
        return frames;
      }
      if (this.pendingBytes < FRAME_HEADER_BYTES + length) break;
      const bytes = this.take(FRAME_HEADER_BYTES + length).subarray(FRAME_HEADER_BYTES);
      frames.push(decodeBody(bytes));
    }
    return frames;
  }

  private peekLength(): number {
    const head = this.pending[0]!.length >= FRAME_HEADER_BYTES ? this.pending[0]! : this.join();
    return new DataView(head.buffer, head.byteOffset, FRAME_HEADER_BYTES).getUint32(0);
  }

  /** Joins the pending chunks into one (rare: only when a header or body spans chunks). */
  private join(): Uint8Array {
    const all = new Uint8Array(this.pendingBytes);
    let at = 0;
    for (const c of this.pending) {
      all.set(c, at);
      at += c.length;
    }
    this.pending = [all];
    return all;
  }

  private take(n: number): Uint8Array {
    const first = this.pending[0]!.length >= n ? this.pending[0]! : this.join();
    const out = first.subarray(0, n);
    const rest = first.subarray(n);
    this.pending[0] = rest;
    if (rest.length === 0) this.pending.shift();
    this.pendingBytes -= n;
    return out;
  }
}

function decodeBody(bytes: Uint8Array): DecodedFrame {
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    return { ok: false, code: 'malformed', message: 'frame is not valid UTF-8' };
  }
  try {
    return { ok: true, json: JSON.parse(text) as unknown };
  } catch (e) {
    return { ok: false, code: 'malformed', message: `frame is not JSON: ${(e as Error).message}` };
  }
}
