import { execFileSync } from 'node:child_process';

/** Whether a program runs here (asked for its version), so tests can skip with a reason when it is missing. */
export function installed(command: string, versionArgs: readonly string[]): boolean {
  try {
    execFileSync(command, versionArgs, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
