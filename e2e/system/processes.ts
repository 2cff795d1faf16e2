import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { BackgroundProcess, Namespace } from '../netns/index.js';

/**
 * The long-running processes of a topology: started in a namespace, their output kept in memory (for readiness waits
 * and the dump on failure) and written to `<dir>/<label>.log` as it comes (for `tail -f` during the demo and for
 * CI artifacts).
 */
export class Processes {
  private readonly running = new Map<string, { process: BackgroundProcess; log: WriteStream }>();
  /** Output of processes that were replaced (restarts), kept for the dump. */
  private readonly finished: { label: string; text: string }[] = [];

  constructor(private readonly logDir: string) {}

  /** Starts `cmd` in `host` under a unique label (a restart reuses the label after `stop`). */
  start(
    host: Namespace,
    label: string,
    cmd: string,
    args: readonly string[],
    env?: NodeJS.ProcessEnv,
  ): BackgroundProcess {
    if (this.running.has(label)) throw new Error(`${label} is already running`);
    const process = host.spawn(label, cmd, args, env ? { env: { ...globalThis.process.env, ...env } } : {});
    const log = createWriteStream(join(this.logDir, `${label}.log`), { flags: 'a' });
    process.child.stdout?.on('data', (d: Buffer) => log.write(d));
    process.child.stderr?.on('data', (d: Buffer) => log.write(d));
    this.running.set(label, { process, log });
    return process;
  }

  get(label: string): BackgroundProcess {
    const entry = this.running.get(label);
    if (!entry) throw new Error(`${label} is not running`);
    return entry.process;
  }

  /** Everything a label printed, over all its runs (restarts included), oldest first. */
  history(label: string): string {
    const earlier = this.finished.filter((f) => f.label === `${label} (stopped)`).map((f) => f.text);
    const current = this.running.get(label)?.process.text ?? '';
    return [...earlier, current].join('');
  }

  /** SIGTERM (then SIGKILL after `graceMs`), or SIGKILL at once with `graceMs` 0. */
  async stop(label: string, graceMs = 5000): Promise<void> {
    const entry = this.running.get(label);
    if (!entry) return;
    if (graceMs === 0) await entry.process.kill();
    else await entry.process.stop(graceMs);
    this.running.delete(label);
    this.finished.push({ label: `${label} (stopped)`, text: entry.process.text });
    entry.log.end();
  }

  async stopAll(): Promise<void> {
    for (const label of [...this.running.keys()].reverse()) await this.stop(label, 3000);
  }

  /** The tail of every process's output, for a failed test or a failed start. */
  dump(tailChars = 6000): string {
    const all = [...this.finished, ...[...this.running].map(([label, { process }]) => ({ label, text: process.text }))];
    return all
      .map(({ label, text }) => {
        const tail = text.length > tailChars ? `…${text.slice(-tailChars)}` : text;
        return `----- ${label} -----\n${tail.trimEnd()}`;
      })
      .join('\n');
  }
}
