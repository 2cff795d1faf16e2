import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  type ConnectionState,
  HELPER_API_VERSION,
  type HelperMessage,
  type HelperRequest,
} from '../../protocol/helper-api.js';
import { POSTERN_VERSION } from '../../protocol/version.js';
import type { PeerDecision } from '../api/peer-check.js';
import { ensureGroup } from '../api/peer-check.js';
import { type ApiConnection, ApiServer, errorFrame } from '../api/server.js';
import type { RunCommand } from '../os/command.js';
import { StateFile } from '../os/state-file.js';
import type { DaemonConfig } from './flags.js';
import { readManagedSettings } from './managed-settings.js';
import { recoverPreviousRun } from './recovery.js';
import type { ClientCoreFactory } from './client-core.js';
import { Session } from './session.js';
import type { TunPort } from './tunnel.js';

/** How long `connect` waits for the portal before answering with the in-progress state. */
const CONNECT_REPLY_TIMEOUT_MS = 15_000;

export interface HelperDeps {
  run: RunCommand;
  /** The SO_PEERCRED check of an API connection, given the API group's id. */
  authorize: (socket: Socket, apiGid: number) => PeerDecision;
  createCore: ClientCoreFactory;
  openTun: (name: string, mtu: number) => TunPort;
  /** Whether a device can carry IPv6 (`os/ipv6.ts`); where not, the tunnel runs IPv4-only. */
  ipv6Enabled: (device: string) => boolean;
}

/**
 * The daemon: undoes a crashed run, serves the local API, and owns at most one Session (a portal connection with
 * its tunnel, DNS and routes). Requests are answered here; everything that touches the network lives in Session.
 */
export class Helper {
  private api: ApiServer | undefined;
  private session: Session | undefined;
  private state: ConnectionState = { status: 'disconnected' };
  private readonly stateFile: StateFile;

  constructor(
    private readonly config: DaemonConfig,
    private readonly log: Logger,
    private readonly deps: HelperDeps,
  ) {
    this.stateFile = new StateFile(config.stateDir);
  }

  async start(): Promise<void> {
    await recoverPreviousRun(this.stateFile, this.deps.run, this.log);
    const gid = await ensureGroup(this.deps.run);
    this.api = new ApiServer({
      socketPath: this.config.socket,
      gid,
      authorize: (socket) => this.deps.authorize(socket, gid),
      handler: (request, connection) => this.handle(request, connection),
      log: this.log.child({ component: 'api' }),
    });
    await this.api.listen();
  }

  /** Disconnects (restoring DNS and routes) and stops serving. */
  async stop(): Promise<void> {
    await this.endSession();
    await this.api?.close();
  }

  private async handle(request: HelperRequest, connection: ApiConnection): Promise<HelperMessage> {
    const id = request.id;
    switch (request.type) {
      case 'hello': {
        const managed = readManagedSettings(this.config.managedFile);
        if (managed.error) this.log.error({ reason: managed.error }, 'managed settings ignored');
        return {
          type: 'hello_result',
          id,
          version: POSTERN_VERSION,
          apiVersion: HELPER_API_VERSION,
          managed: managed.settings,
          ...(managed.error ? { managedError: managed.error } : {}),
          state: this.state,
        };
      }
      case 'connect':
        return this.connect(id, request.portalUrl, request.token);
      case 'disconnect':
        await this.endSession();
        return { type: 'disconnect_result', id, state: this.state };
      case 'status':
        return {
          type: 'status_result',
          id,
          version: POSTERN_VERSION,
          state: this.state,
          tunnel: this.session?.tunnelInfo() ?? null,
          dns: this.session?.dnsInfo() ?? null,
          routes: this.session?.routes() ?? [],
          stats: this.session?.stats() ?? {},
        };
      case 'resources':
        return { type: 'resources_result', id, resources: this.session?.resources() ?? [] };
      case 'mappings':
        return { type: 'mappings_result', id, mappings: this.session?.mappings() ?? [] };
      case 'subscribe':
        connection.subscribed = true;
        return {
          type: 'subscribe_result',
          id,
          state: this.state,
          resources: this.session?.resources() ?? [],
          mappings: this.session?.mappings() ?? [],
        };
    }
  }

  private async connect(id: number, portalUrl: string, token: string): Promise<HelperMessage> {
    await this.endSession();
    const session = new Session({
      portalUrl,
      token,
      config: this.config,
      stateFile: this.stateFile,
      run: this.deps.run,
      createCore: this.deps.createCore,
      openTun: this.deps.openTun,
      ipv6Enabled: this.deps.ipv6Enabled,
      log: this.log.child({ component: 'session' }),
      events: {
        state: (state) => this.setState(session, state),
        resources: (resources) => this.api?.broadcast({ type: 'resources_changed', resources }),
        mapping: (mapping) => this.api?.broadcast({ type: 'mapping_changed', mapping }),
        mappingsCleared: () => this.api?.broadcast({ type: 'mappings_cleared' }),
      },
    });
    this.session = session;
    const outcome = session.settled(CONNECT_REPLY_TIMEOUT_MS);
    session.start();
    const state = await outcome;
    if (state.status === 'disconnected' && state.error?.code === 'unauthorized') {
      await this.endSession(state);
      return errorFrame(id, 'unauthorized', state.error.message);
    }
    return { type: 'connect_result', id, state };
  }

  private setState(session: Session, state: ConnectionState): void {
    if (this.session !== session) return;
    this.state = state;
    this.log.info({ state: state.status, error: 'error' in state ? state.error : undefined }, 'connection state');
    this.api?.broadcast({ type: 'state_changed', state });
  }

  private async endSession(finalState: ConnectionState = { status: 'disconnected' }): Promise<void> {
    const session = this.session;
    if (!session) return;
    this.session = undefined;
    await session.stop();
    this.stateFile.clearIfEmpty();
    this.state = finalState;
    this.api?.broadcast({ type: 'state_changed', state: finalState });
  }
}
