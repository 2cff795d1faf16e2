import { readFileSync } from 'node:fs';
import { POSTERN_VERSION } from '../../protocol/version.js';
import { HelperClient, HelperRequestError } from '../api/client.js';
import { CLI_USAGE, type CliCommand, parseCliArgs } from './args.js';
import { formatMappings, formatResources, formatState, formatStatus } from './format.js';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** The browser sign-in (a separate module: it runs an HTTP listener and talks to the portal). */
  signIn?: (portalUrl: string, openBrowser: boolean, io: CliIo) => Promise<string>;
}

/** Runs `postern` with its arguments; resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCliArgs(argv, io.env);
  if (!parsed.ok) {
    io.err(`postern: ${parsed.error}\n${CLI_USAGE}`);
    return 2;
  }
  const command = parsed.command;
  if (command.kind === 'help') return (io.out(CLI_USAGE), 0);
  if (command.kind === 'version') return (io.out(POSTERN_VERSION), 0);
  try {
    return await execute(command, io);
  } catch (e) {
    io.err(`postern: ${e instanceof HelperRequestError || e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

async function execute(command: Exclude<CliCommand, { kind: 'help' | 'version' }>, io: CliIo): Promise<number> {
  let token: string | undefined;
  if (command.kind === 'connect') token = readToken(command.tokenFile);
  if (command.kind === 'sign-in') {
    if (!io.signIn) throw new Error('sign-in is not available in this build');
    token = await io.signIn(command.portalUrl, command.openBrowser, io);
  }
  const client = await HelperClient.connect(command.socket);
  try {
    switch (command.kind) {
      case 'connect':
      case 'sign-in': {
        const { state } = await client.request({ type: 'connect', portalUrl: command.portalUrl, token: token! });
        io.out(formatState(state));
        return state.status === 'connected' ? 0 : 1;
      }
      case 'disconnect': {
        const { state } = await client.request({ type: 'disconnect' });
        io.out(formatState(state));
        return 0;
      }
      case 'status': {
        const status = await client.request({ type: 'status' });
        io.out(command.json ? JSON.stringify(status, null, 2) : formatStatus(status));
        return 0;
      }
      case 'resources': {
        const result = await client.request({ type: 'resources' });
        io.out(command.json ? JSON.stringify(result.resources, null, 2) : formatResources(result));
        return 0;
      }
      case 'mappings': {
        const result = await client.request({ type: 'mappings' });
        io.out(command.json ? JSON.stringify(result.mappings, null, 2) : formatMappings(result));
        return 0;
      }
    }
  } finally {
    client.close();
  }
}

function readToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the token file: ${(e as Error).message}`);
  }
  const token = text.trim();
  if (!token) throw new Error(`the token file ${file} is empty`);
  if (/\s/.test(token)) throw new Error(`the token file ${file} holds more than one word`);
  return token;
}
