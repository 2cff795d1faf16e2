import { type CliIo, runCli } from '../cli/run.js';

/** Runs the CLI against a helper socket and captures what it prints (tests only). */
export async function captureCli(
  socketPath: string,
  argv: readonly string[],
  signIn?: CliIo['signIn'],
): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(['--socket', socketPath, ...argv], {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    env: {},
    ...(signIn ? { signIn } : {}),
  });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
