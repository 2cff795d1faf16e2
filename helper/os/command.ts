import { execFile } from 'node:child_process';

/** The outcome of running a program; `code` is -1 when it could not be started or was killed. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program with an argument array (never a shell string). Injected so OS control can be unit-tested. */
export type RunCommand = (cmd: string, args: readonly string[]) => Promise<CommandResult>;

export const runCommand: RunCommand = (cmd, args) =>
  new Promise((resolve) => {
    execFile(cmd, args, { timeout: 15_000, maxBuffer: 4 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout, stderr: stderr || (error && code === -1 ? error.message : '') });
    });
  });

export class CommandError extends Error {
  constructor(
    readonly cmd: string,
    readonly args: readonly string[],
    readonly result: CommandResult,
  ) {
    super(`${cmd} ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
  }
}

/** Runs a program and throws a CommandError unless it exits 0. */
export async function mustRun(run: RunCommand, cmd: string, args: readonly string[]): Promise<string> {
  const result = await run(cmd, args);
  if (result.code !== 0) throw new CommandError(cmd, args, result);
  return result.stdout;
}
